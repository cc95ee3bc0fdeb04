"""Attacks on a public link, sent to the real app on 127.0.0.1 as a stranger with only its address would send them.

Each probe is one finding of the security review (issue 28); where memory is the point, the server's resident
memory (this process's: the server runs in it) is measured before and after. Nothing here talks to any address but
loopback: where a probe needs a "public" web server, a loopback one stands in, and Gradio's check that a host is
public is told so for that one name, so that no DNS query or connection leaves the machine. The module ends with a
normal job.
"""

from __future__ import annotations

import gc
import http.client
import http.server
import io
import json
import os
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import safehttpx
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import EpsImagePlugin, Image

import app
from tests.app_server import EXAMPLES, HANG_GUARD, running_app, wait_until
from webapp.blobs import MB as BLOB_MB
from webapp.blobs import BlobLedger, BlobLimits, BlobRefused
from webapp.sweeper import UploadSweeper
from webapp.visitors import TrustedProxies, visitor_of

pytestmark = pytest.mark.slow

COFFEE = EXAMPLES / "coffee.jpg"
STYLE = EXAMPLES / "style_swirls.jpg"
SMALL = {"size": 64, "multiscale": False, "iterations": 4, "preview_every": 0}
#: The stand-in for a public web host: Gradio's public-address check is told that this name is public.
PUBLIC_HOST = "public.test"
#: A second visitor: loopback has the whole 127/8, so a client can come from another address.
OTHER_VISITOR = "127.0.0.2"
MB = 2**20


# ---------------------------------------------------------------------------------------------------------------
# Helpers: raw HTTP (a stranger does not use gradio_client), memory, the page's ids.


def request(
    base: str, method: str, path: str, body: bytes = b"", headers: dict | None = None, *, source: str = "127.0.0.1"
) -> tuple[int, bytes]:
    """One HTTP request to the server at ``base``, from the loopback address ``source``; (status, body)."""
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=HANG_GUARD, source_address=(source, 0))
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body with ``fields`` and ``files`` (field, file name, bytes), and its headers."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    for field, name, data in files:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
        parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(len(body))}


def upload(base: str, name: str, data: bytes) -> str:
    """Upload one file as the page does; its path on the server."""
    body, headers = multipart({}, [("files", name, data)])
    status, answer = request(base, "POST", "/gradio_api/upload", body, headers)
    assert status == 200, answer[:300]
    return json.loads(answer)[0]


def file_data(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": Path(path).name}


def queue_call(base: str, fn_index: int, data: list, session: str | None = None) -> dict:
    """Run event ``fn_index`` through Gradio's queue as the browser does; its ``process_completed`` message."""
    session = session or uuid.uuid4().hex
    join = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None}
    status, answer = request(
        base, "POST", "/gradio_api/queue/join", json.dumps(join).encode(), {"Content-Type": "application/json"}
    )
    assert status == 200, answer[:300]
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=HANG_GUARD)
    try:
        connection.request("GET", f"/gradio_api/queue/data?session_hash={session}")
        stream = connection.getresponse()
        for line in stream:
            if line.startswith(b"data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    finally:
        connection.close()
    raise AssertionError("the queue's stream ended without a result")


def resident_mb() -> float:
    """The server's resident memory (this process's), in MiB."""
    return _status_kb("VmRSS") / 1024


def peak_mb() -> float:
    """The server's peak resident memory since :func:`reset_peak`, in MiB."""
    return _status_kb("VmHWM") / 1024


def reset_peak() -> None:
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def png(image: Image.Image) -> bytes:
    data = io.BytesIO()
    image.save(data, format="PNG")
    return data.getvalue()


class Page:
    """The ids a browser reads from ``/config``: the regions editor and its preview event."""

    def __init__(self, base: str) -> None:
        status, answer = request(base, "GET", "/config")
        assert status == 200
        config = json.loads(answer)
        self.editor = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "regions")
        self.preview = next(
            d["id"] for d in config["dependencies"] if [self.editor, "change"] in [list(t) for t in d["targets"]]
        )


def blob(base: str, page: Page, session: str, blob_id: str, kind: str, index: str, data: bytes) -> tuple[int, bytes]:
    """Store one of the editor's blobs as the page's editor does (``accept_blobs`` on the component server)."""
    fields = {"id": blob_id, "type": kind, "index": index, "component_id": str(page.editor)}
    fields |= {"fn_name": "accept_blobs", "session_hash": session}
    body, headers = multipart(fields, [("file", f"{kind}.png", data)])
    return request(base, "POST", "/gradio_api/component_server/", body, headers)


# ---------------------------------------------------------------------------------------------------------------
# The server, in a temporary folder of its own, and a stand-in for a public web host.


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gradio-temp")


@pytest.fixture(scope="module")
def base(studio, uploads, tmp_path_factory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(uploads))
        with running_app(studio, queue_size=4, examples_cache=tmp_path_factory.mktemp("examples")) as url:
            yield url.rstrip("/")


@pytest.fixture(scope="module")
def page(base) -> Page:
    return Page(base)


@pytest.fixture
def client(base) -> Client:
    return Client(base + "/", verbose=False)


class PublicHost:
    """A web server on loopback standing in for a public host; it records every request it gets."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        photo = COFFEE.read_bytes()
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(photo)))
                self.end_headers()
                self.wfile.write(photo)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://{PUBLIC_HOST}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def public_host(monkeypatch) -> Iterator[PublicHost]:
    """The stand-in host; Gradio's SSRF check (safehttpx) answers "public, at 127.0.0.1" for its name only and
    refuses every other name without resolving it."""

    async def validate(hostname: str) -> str:
        if hostname == PUBLIC_HOST:
            return "127.0.0.1"
        raise ValueError(f"only {PUBLIC_HOST} resolves in these tests")

    monkeypatch.setattr(safehttpx, "async_validate_url", validate)
    host = PublicHost()
    try:
        yield host
    finally:
        host.server.shutdown()
        host.server.server_close()


def stylize(client: Client, content=COFFEE, style=STYLE, **settings):
    content = content if isinstance(content, dict) else handle_file(str(content))
    return client.predict(content=content, style=handle_file(str(style)), **{**SMALL, **settings}, api_name="/stylize")


# ---------------------------------------------------------------------------------------------------------------
# 1. The editor's blob endpoint.


def test_the_editor_refuses_a_layer_index_beyond_its_three_layers(base, page):
    small = png(Image.new("RGBA", (16, 16)))
    assert blob(base, page, uuid.uuid4().hex, uuid.uuid4().hex, "layer", "0", small)[0] == 200  # warm the route up
    before = resident_mb()
    status, _ = blob(base, page, uuid.uuid4().hex, uuid.uuid4().hex, "layer", "10000000", small)
    grown = resident_mb() - before
    assert status in (400, 413, 422), status
    assert grown < 30, f"one 1 KB request grew the server by {grown:.0f} MiB"
    for index in ("3", "-1", "x"):
        assert blob(base, page, uuid.uuid4().hex, uuid.uuid4().hex, "layer", index, small)[0] in (400, 422)
    assert blob(base, page, uuid.uuid4().hex, uuid.uuid4().hex, "sticker", "null", small)[0] in (400, 422)


def test_the_editor_keeps_only_a_few_blob_sets_per_session(base, page):
    """A session that stores many blob sets keeps only its latest few; an event naming an older one finds nothing."""
    session = uuid.uuid4().hex
    photo = png(Image.new("RGB", (48, 32), (200, 30, 30)))
    ids = [uuid.uuid4().hex for _ in range(12)]
    for blob_id in ids:
        assert blob(base, page, session, blob_id, "background", "null", photo)[0] == 200
    oldest = queue_call(base, page.preview, [{"id": ids[0]}], session)
    newest = queue_call(base, page.preview, [{"id": ids[-1]}], session)
    assert newest["success"] and newest["output"]["data"][0] is not None, newest
    assert oldest["success"] and oldest["output"]["data"][0] is None, "the session's oldest blob set was kept"


def test_the_blob_ledger_holds_all_sessions_to_a_total_and_drops_the_heaviest_visitors_first():
    ledger = BlobLedger(BlobLimits(blob_bytes=4 * BLOB_MB, sets_per_session=8, total_bytes=10 * BLOB_MB))
    assert ledger.admit("mine", "visitor", "me", 2 * BLOB_MB) == []
    for n in range(4):
        ledger.admit(f"flood{n}", f"session{n}", "attacker", 3 * BLOB_MB)
    assert ledger.total_bytes <= 10 * BLOB_MB and "mine" in ledger.sets_of("visitor")
    with pytest.raises(BlobRefused, match="at most 4 MB"):
        ledger.admit("huge", "visitor", "me", 5 * BLOB_MB)
    with pytest.raises(BlobRefused, match="another session"):
        ledger.admit("mine", "session0", "attacker", 1)
    assert ledger.end_session("visitor") == ["mine"] and ledger.sets_of("visitor") == []


# ---------------------------------------------------------------------------------------------------------------
# 2. The editor's events: through the queue, its images vetted from their header.


def test_the_editor_events_only_run_through_the_queue(base, page):
    call = {"data": [None], "fn_index": page.preview, "session_hash": uuid.uuid4().hex}
    status, _ = request(
        base, "POST", "/gradio_api/run/predict", json.dumps(call).encode(), {"Content-Type": "application/json"}
    )
    assert status == 404
    stylize_call = {"data": [], "session_hash": uuid.uuid4().hex}
    status, _ = request(
        base, "POST", "/gradio_api/api/stylize", json.dumps(stylize_call).encode(), {"Content-Type": "application/json"}
    )
    assert status == 404


def test_a_16_megapixel_editor_background_is_refused_from_its_header(base, page):
    big = png(Image.new("RGB", (4096, 4096), (90, 120, 200)))
    layer = png(Image.new("RGBA", (4096, 4096)))
    value = {
        "background": file_data(upload(base, "background.png", big)),
        "layers": [file_data(upload(base, f"layer_{i}.png", layer)) for i in range(3)],
        "composite": None,
        "id": None,
    }
    del big, layer
    reset_peak()
    before = peak_mb()
    answer = queue_call(base, page.preview, [value])
    grown = peak_mb() - before
    assert not answer["success"], "a 16-megapixel editor picture was decoded"
    assert "megapixels" in str(answer["output"].get("error")), answer["output"]
    assert grown < 150, f"the preview's peak memory grew by {grown:.0f} MiB"


# ---------------------------------------------------------------------------------------------------------------
# 3. Only the formats we mean.


def eps() -> bytes:
    return (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n%%EndComments\n"
        b"newpath 0 0 moveto 64 64 lineto stroke showpage\n%%EOF\n"
    )


def test_an_eps_named_photo_jpg_is_refused_before_any_ghostscript_call(client, base, page, tmp_path, monkeypatch):
    calls = []

    def ghostscript(*args, **kwargs):
        calls.append(args)
        raise OSError("Ghostscript is not run in these tests")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", ghostscript)
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(eps())
    with pytest.raises(AppError, match="content image is not an image that can be read"):
        stylize(client, content=fake)
    answer = queue_call(base, page.preview, [{"background": file_data(upload(base, "photo.jpg", eps())), "layers": []}])
    assert not answer["success"] and "not an image that can be read" in str(answer["output"].get("error"))
    assert calls == []


# ---------------------------------------------------------------------------------------------------------------
# 4. Uploads bounded per request and cleaned up.


def test_an_upload_request_carries_one_file(base):
    files = [("files", f"photo{i}.jpg", np.random.default_rng(i).bytes(64 * 1024)) for i in range(3)]
    body, headers = multipart({}, files)
    status, _ = request(base, "POST", "/gradio_api/upload", body, headers)
    assert status == 413


def test_an_oversized_upload_is_refused_before_its_body_is_read(base):
    url = urllib.parse.urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        head = (
            "POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 209715200\r\n\r\n"
        )
        sock.sendall(head.encode())
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def temporary_files(folder: Path) -> list[Path]:
    """The upload parser's temporary files: ``tmp…`` files at the top of the upload folder."""
    return [path for path in folder.iterdir() if path.is_file() and path.name.startswith("tmp")]


def test_an_aborted_upload_leaves_no_temporary_file(base, uploads):
    assert temporary_files(uploads) == []
    url = urllib.parse.urlsplit(base)
    preamble = b'--x\r\nContent-Disposition: form-data; name="files"; filename="big.jpg"\r\n\r\n'
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        head = (
            "POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {len(preamble) + 9 * MB + 8}\r\n\r\n"
        )
        sock.sendall(head.encode() + preamble + bytes(8 * MB))
        wait_until(lambda: any(p.stat().st_size > 0 for p in temporary_files(uploads)), "the upload to be written")
    wait_until(lambda: temporary_files(uploads) == [], "the aborted upload's temporary file to go", timeout=30)


def test_the_sweeper_removes_old_files_the_oldest_beyond_its_budget_and_empty_folders(tmp_path):
    now = time.time()

    def planted(name: str, age: float, size: int = 1024) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(size))
        os.utime(path, (now - age, now - age))
        return path

    old, kept = planted("a1/old.png", 7200), planted("g1/gallery.jpg", 7200)
    oldest, newer = planted("b1/one.png", 600), planted("b2/two.png", 300)
    empty = tmp_path / "c1"
    empty.mkdir()
    os.utime(empty, (now - 7200, now - 7200))
    sweeper = UploadSweeper(tmp_path, keep=lambda: {str(kept)}, max_age=3600, max_bytes=1536)
    sweeper.sweep(now)
    assert not old.exists() and not oldest.exists() and not empty.exists()
    assert kept.exists() and newer.exists()


# ---------------------------------------------------------------------------------------------------------------
# 5. No server-side fetching of URLs.


def test_a_url_input_is_refused_without_being_fetched(client, public_host):
    with pytest.raises(AppError, match="upload the file"):
        stylize(client, content=handle_file(f"{public_host.url}/photo.jpg"))
    assert public_host.paths == []


def test_the_file_route_is_no_proxy(base, public_host):
    status, _ = request(base, "GET", f"/gradio_api/file={public_host.url}/photo.jpg")
    assert status in (403, 404)
    assert public_host.paths == []


# ---------------------------------------------------------------------------------------------------------------
# 6. Defaults that expose nothing extra.


@pytest.mark.parametrize("setting", ["learning_rate", "optimizer", "size"])
def test_a_huge_setting_is_not_echoed_back_whole(client, setting):
    with pytest.raises(AppError) as refused:
        stylize(client, **{setting: "x" * 1_000_000})
    message = str(refused.value)
    named, length = f"'{setting}'" in message, len(message)
    assert named and length < 400, f"{length} characters"  # not the message itself: a megabyte


def test_monitoring_is_off(base):
    assert request(base, "GET", "/monitoring/summary")[0] == 403


def test_one_client_cannot_push_out_another_visitors_session(base, page):
    def touch(session: str, source: str) -> None:
        call = {"data": None, "component_id": page.editor, "fn_name": "no_such_function", "session_hash": session}
        body = json.dumps(call).encode()
        status, _ = request(
            base, "POST", "/gradio_api/component_server/", body, {"Content-Type": "application/json"}, source=source
        )
        assert status == 404

    visitor = uuid.uuid4().hex
    touch(visitor, OTHER_VISITOR)
    before = resident_mb()
    for _ in range(app.SESSIONS_KEPT + 20):
        touch(uuid.uuid4().hex, "127.0.0.1")
    assert resident_mb() - before < 600
    status, link = request(base, "GET", f"/gradio_api/deep_link?session_hash={visitor}")
    assert status == 200 and json.loads(link) != "", "the other visitor's session was dropped"


def test_a_visitor_is_the_peer_or_the_address_its_trusted_proxy_added():
    space = TrustedProxies.from_environment({"SPACE_ID": "user/app"})  # a Space: its proxy is on a private address
    assert visitor_of("93.184.216.34", "151.101.1.1", space) == "93.184.216.34"  # an untrusted peer cannot choose
    assert visitor_of("10.16.3.80", "151.101.1.1, 93.184.216.9", space) == "93.184.216.9"  # the proxy added the last
    assert visitor_of("10.16.3.80", "93.184.216.9, 10.0.0.2", space) == "93.184.216.9"  # past the proxy's own hops
    assert visitor_of("127.0.0.1", None, space) == "127.0.0.1"
    local = TrustedProxies.from_environment({})  # no proxy declared: the header is never believed
    assert visitor_of("127.0.0.1", "93.184.216.9", local) == "127.0.0.1"
    assert visitor_of("10.16.3.80", "93.184.216.9", local) == "10.16.3.80"
    declared = TrustedProxies.parse("127.0.0.1, 10.16.0.0/16")
    assert visitor_of("10.16.3.80", "93.184.216.9", declared) == "93.184.216.9"
    assert visitor_of("10.17.3.80", "93.184.216.9", declared) == "10.17.3.80"
    assert visitor_of("127.0.0.1", "not an address", declared) == "127.0.0.1"


def test_the_environment_cannot_open_vibe_mode_mcp_run_history_or_more_paths(studio, uploads, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for visitors")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(uploads))
        patch.setenv("GRADIO_VIBE_MODE", "1")
        patch.setenv("GRADIO_MCP_SERVER", "true")
        patch.setenv("GRADIO_RUN_HISTORY", "true")
        patch.setenv("GRADIO_ALLOWED_PATHS", str(tmp_path))
        with running_app(studio, queue_size=2, examples_cache=tmp_path / "examples") as url:
            base = url.rstrip("/")
            config = json.loads(request(base, "GET", "/config")[1])
            assert not config.get("vibe_mode") and not config.get("run_history") and not config.get("mcp_server")
            assert request(base, "GET", f"/gradio_api/file={secret}")[0] in (403, 404)
            assert request(base, "GET", "/gradio_api/mcp/schema")[0] == 404
            assert request(base, "GET", "/gradio_api/runs")[0] in (403, 404)


# ---------------------------------------------------------------------------------------------------------------
# After all of it, the server still makes pictures.


def test_after_the_attacks_a_normal_job_is_done(client):
    image, _, status, *_ = stylize(client)
    assert status.startswith("**Done**")
    with Image.open(image) as picture:
        assert picture.size == (64, 43)
