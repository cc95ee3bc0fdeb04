"""A tiny local stand-in for the Hugging Face Hub, for tests that must not touch the network.

It speaks just enough of the ``/resolve`` protocol for ``hf_hub_download`` to fetch a plain
(non-Xet) file: ``HEAD`` answers with the commit (``X-Repo-Commit``), a quoted ``ETag`` and the
``Content-Length``; ``GET`` serves the bytes, honouring ``Range: bytes=N-`` (which
``hf_hub_download`` sends to resume a download cut short). No redirects, no ``X-Linked-*``
headers (those belong to LFS files redirected to a CDN), no ``X-Xet-Hash``. Every request is
recorded, so a test can assert that a cached load sent none.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: The commit every served revision resolves to.
COMMIT = "0123456789abcdef0123456789abcdef01234567"

_RESOLVE = re.compile(r"^/(?P<repo_id>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<filename>.+)$")
_RANGE = re.compile(r"^bytes=(?P<start>\d+)-$")


class HubServer:
    """A Hub ``/resolve`` endpoint on 127.0.0.1, serving ``files[(repo_id, filename)]`` at any revision.

    Use it as a context manager; ``url`` is the endpoint to pass to ``hf_hub_download``. With
    ``cut_first_get_after``, the first ``GET`` announces the whole file but sends only that many
    bytes before closing the connection, like a network that drops mid-download.
    """

    def __init__(self, files: dict[tuple[str, str], bytes], cut_first_get_after: int | None = None) -> None:
        self.files = files
        self.cut_first_get_after = cut_first_get_after
        self.requests: list[tuple[str, str]] = []
        #: The first byte of every partial (206) answer to a ``Range`` request.
        self.range_starts: list[int] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="hub-server", daemon=True)

    @property
    def url(self) -> str:
        """The endpoint, ``http://127.0.0.1:{port}``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def record(self, method: str, path: str) -> None:
        """Note one received request."""
        with self._lock:
            self.requests.append((method, path))

    def take_cut(self) -> int | None:
        """How many bytes this ``GET`` may send: ``cut_first_get_after`` once, then no limit."""
        with self._lock:
            cut, self.cut_first_get_after = self.cut_first_get_after, None
            return cut

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _make_handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    """Build the request handler class bound to ``hub``."""

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def _answer(self, send_body: bool) -> None:
            hub.record(self.command, self.path)
            match = _RESOLVE.match(self.path)
            data = hub.files.get((match["repo_id"], match["filename"])) if match else None
            if data is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("X-Error-Message", "Entry not found")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = 0
            range_match = _RANGE.match(self.headers.get("Range", ""))
            if send_body and range_match:
                start = min(int(range_match["start"]), len(data))
                hub.range_starts.append(start)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            if send_body:
                self.wfile.write(data[start:][: hub.take_cut()])

        def log_message(self, format: str, *args: object) -> None:
            """Stay quiet: pytest output is no place for an access log."""

    return Handler


def closed_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def black_hole() -> Iterator[str]:
    """Yield the URL of a socket that accepts connections but never answers a byte."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # the kernel completes the handshakes; nobody ever reads or writes
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
