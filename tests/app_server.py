"""The real app, served in this process on a free 127.0.0.1 port, for the server and browser tests.

In-process, so that the tests can read the studio's :class:`~webapp.meter.WorkMeter`:
the engine work the server really did, which the client cannot see.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import pytest
from gradio_client import Client

import app
from styletransfer import StyleConfig
from webapp.jobs import Studio
from webapp.layout import build_demo
from webapp.visitors import TRUSTED_PROXIES_ENV

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: The page's defaults in these tests: tiny and quick, two scales, frequent previews.
TINY_DEFAULTS = StyleConfig(size=80, min_size=48, scales=2, coarse_iterations=12, iterations=24, preview_every=3)
#: Generous: only a hang makes a test wait this long.
HANG_GUARD = 120.0
#: The servers here trust 127.0.0.1 as a proxy, so that a client may stand for any visitor with ``X-Forwarded-For``
#: (see :func:`visitor_client`); a client without the header is the visitor 127.0.0.1.
TRUSTED_PROXY = "127.0.0.1"


def bundled_studio() -> Studio:
    """A studio built and warmed up as ``app.py`` does, from ``STYLETRANSFER_WEIGHTS=bundled``, on the CPU (whatever
    else the machine has: the tests expect the CPU's bounds), with tiny defaults."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STYLETRANSFER_WEIGHTS", "bundled")
        studio = Studio.from_environment(device="cpu", defaults=TINY_DEFAULTS)
    studio.warm_up()
    return studio


@contextmanager
def running_app(
    studio: Studio, *, queue_size: int, examples_cache: Path, trusted_proxies: str = TRUSTED_PROXY
) -> Iterator[str]:
    """Serve the page for ``studio`` as ``app.py`` does, trusting ``trusted_proxies``' forwarded addresses (see
    :data:`~webapp.visitors.TRUSTED_PROXIES_ENV`), and yield its URL.

    Lazily cached example results go to ``examples_cache``, not the repository's ``.gradio/``.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_EXAMPLES_CACHE", str(examples_cache))
        demo = build_demo(studio, queue_size=queue_size)
    port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TRUSTED_PROXIES_ENV, trusted_proxies)
        app.launch(demo, server_name="127.0.0.1", server_port=port, share=False, prevent_thread_lock=True)
        try:
            yield f"http://127.0.0.1:{port}/"
        finally:
            demo.close()


def visitor_address(index: int) -> str:
    """The address of visitor ``index`` (0-255), in a documentation range (TEST-NET-2): never a real host."""
    if not 0 <= index < 256:
        raise ValueError(f"visitor {index}: the tests have 256 visitors")
    return f"198.51.100.{index}"


def visitor_client(url: str, index: int) -> Client:
    """A ``gradio_client`` client for visitor ``index``: through the trusted proxy, with its own forwarded address."""
    return Client(url, verbose=False, headers={"X-Forwarded-For": visitor_address(index)})


def decode_video(path: str) -> tuple[int, tuple[int, int]]:
    """The frame count and (width, height) of an MP4 whose video is H.264 in yuv420p; fails on any other kind."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.format.name) == ("h264", "yuv420p")
        return sum(1 for _ in container.decode(stream)), (stream.width, stream.height)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = HANG_GUARD) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}.")
        time.sleep(0.05)
