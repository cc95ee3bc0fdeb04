"""A small ASGI middleware in front of Gradio's routes: request bodies and files bounded, no URL proxy.

:class:`RequestGuard` runs before Gradio reads a request. It

* notes the request's visitor (:data:`webapp.visitors.current_visitor`);
* refuses, with 403, the file route given a URL (``/gradio_api/file=https://…``),
  which Gradio would fetch and pass on;
* bounds each request's body (:class:`RequestLimits`): a declared length over the
  limit is refused with 413 before anything is read, and a body that grows past it,
  or an upload with more files than allowed, is cut off with 413;
* reads a component-server upload (the region editor's blobs, a few hundred KB) whole
  before Gradio sees it, within a budget for all such bodies at once (503 beyond),
  so that Gradio's parser never meets a client that went away half-way (it would
  leave its temporary file behind);
* tells the :class:`~webapp.sweeper.UploadSweeper` when uploads begin and end.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect

from .gradio_internals import FILE_ROUTE, UPLOAD_ROUTES
from .sweeper import UploadSweeper
from .visitors import current_visitor, visitor_of

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MB = 2**20
#: What a multipart body carries besides its file: boundaries, part headers, the form's fields.
MULTIPART_OVERHEAD = 64 * 1024
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*:|//|\\\\)")


@dataclass(frozen=True)
class RequestLimits:
    """The most one request may send."""

    upload_bytes: int
    """An upload's file (Gradio's ``max_file_size``); its request may carry this and :data:`MULTIPART_OVERHEAD`."""
    files_per_upload: int = 1
    """The page and ``gradio_client`` send one file per upload request."""
    blob_bytes: int = 8 * MB
    """A component-server upload (one of the editor's pictures)."""
    buffered_bytes: int = 64 * MB
    """All component-server uploads being read at once."""
    other_bytes: int = MB
    """Any other request: settings and file references, a few KB."""


class Refused(Exception):
    """A request cut off; ``status`` and ``message`` are the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class RequestGuard:
    """The middleware; see the module's docstring. ``limits`` bound the requests, ``sweeper`` hears of uploads."""

    def __init__(self, app: ASGIApp, *, limits: RequestLimits, sweeper: UploadSweeper) -> None:
        self.app, self.limits, self.sweeper = app, limits, sweeper
        self._buffered = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI request through the checks."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        peer = scope.get("client")
        current_visitor.set(visitor_of(peer[0] if peer else None, headers.get("x-forwarded-for")))
        path = scope["path"].rstrip("/")
        if FILE_ROUTE in path and _SCHEME.match(path.split(FILE_ROUTE, 1)[1]):
            await _answer(send, 403, "This server does not fetch files from other addresses.")
            return
        route = next((name for name, route in UPLOAD_ROUTES.items() if path.endswith(route)), None)
        multipart = headers.get("content-type", "").startswith("multipart/form-data")
        cap = (
            self.limits.upload_bytes + MULTIPART_OVERHEAD
            if route == "upload"
            else self.limits.blob_bytes + MULTIPART_OVERHEAD
            if route == "component_server" and multipart
            else self.limits.other_bytes
        )
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > cap):
            await _answer(send, 413, f"A request to this server may carry at most {cap // MB} MB.")
            return
        try:
            if route == "component_server" and multipart:
                await self._buffered_call(scope, receive, send, cap, length)
            elif route == "upload":
                await self._upload(scope, receive, send, cap, _boundary(headers.get("content-type", "")))
            else:
                await self.app(scope, _counting(receive, cap), send)
        except Refused as refused:
            await _answer(send, refused.status, refused.message)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, cap: int, boundary: bytes | None) -> None:
        """An upload request, its files counted as they come."""
        counted = _counting(receive, cap)
        parts = _PartCounter(boundary, self.limits.files_per_upload) if boundary else None

        async def receive_counting_files() -> Message:
            message = await counted()
            if parts is not None and message["type"] == "http.request":
                parts.feed(message.get("body", b""))
            return message

        self.sweeper.upload_begins()
        try:
            await self.app(scope, receive_counting_files, send)
        except ClientDisconnect:
            pass  # the client went away half-way; its temporary file is an orphan now, swept below
        finally:
            self.sweeper.upload_ends()

    async def _buffered_call(self, scope: Scope, receive: Receive, send: Send, cap: int, length: str | None) -> None:
        """A component-server upload, read whole first within the budget of :attr:`RequestLimits.buffered_bytes`."""
        if length is None:
            raise Refused(411, "An upload to the component server must declare its length.")
        size = int(length)
        with self._lock:
            if self._buffered + size > self.limits.buffered_bytes:
                raise Refused(503, "The server is busy; please try again in a moment.")
            self._buffered += size
        try:
            chunks, counted = [], _counting(receive, cap)
            while True:
                message = await counted()
                if message["type"] == "http.disconnect":
                    return  # the client went away: Gradio never sees the request
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

            await self.app(scope, replay, send)
        finally:
            with self._lock:
                self._buffered -= size


class _PartCounter:
    """Counts a multipart body's parts as it streams by; raises :class:`Refused` past ``most``."""

    def __init__(self, boundary: bytes, most: int) -> None:
        self.marker, self.most = b"--" + boundary, most
        self.seen, self.tail = 0, b""

    def feed(self, chunk: bytes) -> None:
        data = self.tail + chunk
        self.seen += data.count(self.marker)
        self.tail = data[-(len(self.marker) - 1) :]
        if self.seen > self.most + 1:  # every part opens with the marker, and one more closes the body
            raise Refused(413, f"An upload request may carry at most {self.most} file(s).")


def _counting(receive: Receive, cap: int) -> Receive:
    """``receive``, raising :class:`Refused` once the body passes ``cap`` bytes."""
    total = 0

    async def counted() -> Message:
        nonlocal total
        message = await receive()
        total += len(message.get("body", b""))
        if total > cap:
            raise Refused(413, f"A request to this server may carry at most {cap // MB} MB.")
        return message

    return counted


def _boundary(content_type: str) -> bytes | None:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    return match.group(1).encode("latin-1") if match else None


async def _answer(send: Send, status: int, message: str) -> None:
    """A plain-text answer (if the app has not started one)."""
    body = message.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    try:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    except RuntimeError:  # a response had started already
        pass
