"""Restart without harm: a server killed with SIGKILL mid-job starts again on the same folders, cleanly."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from benchmarks.server import AppProcess
from tests.app_server import EXAMPLES, HANG_GUARD, wait_until

pytestmark = pytest.mark.slow

FILES = {"content": handle_file(str(EXAMPLES / "coffee.jpg")), "style": handle_file(str(EXAMPLES / "style_swirls.jpg"))}
QUICK = {"size": 64, "multiscale": False, "iterations": 4, "preview_every": 0}


def example(client: Client, row: int) -> tuple:
    """An example's result (computed the first time, then from Gradio's cache)."""
    index = next(event["id"] for event in client.config["dependencies"] if event["api_name"] == "load_example")
    return client.submit(row, fn_index=index).result(timeout=HANG_GUARD)


def whole(path: Path) -> bool:
    """Whether a picture or video file decodes to its end."""
    if path.suffix.lower() == ".mp4":
        with av.open(str(path)) as container:
            return sum(1 for _ in container.decode(video=0)) > 0
    with Image.open(path) as picture:
        picture.load()
    return True


def test_a_server_killed_mid_job_starts_again_cleanly(tmp_path):
    server = AppProcess(tmp_path)
    with server:
        client = Client(server.url, verbose=False)
        first = example(client, 0)
        running = client.submit(**FILES, **{**QUICK, "iterations": 1000}, api_name="/stylize")
        wait_until(lambda: len(running.outputs()) > 0, "the job to run")
        server.kill()
        assert not server.alive()

    with server:  # the same temporary folder and examples cache
        client = Client(server.url, verbose=False)
        _, _, status, *_ = client.submit(**FILES, **QUICK, api_name="/stylize").result(timeout=HANG_GUARD)
        assert status.startswith("**Done**")  # no stale lock: the device is free
        again = example(client, 0)  # the cached example is still valid
        assert "An example" in str(again[2]) and Image.open(again[0]).size == Image.open(first[0]).size
        assert "An example" in str(example(client, 1)[2])  # one never run is made now
        served = [path for path in server.temp_dir.rglob("*") if path.suffix.lower() in (".png", ".webp", ".mp4")]
        assert served and all(whole(path) for path in served)  # no half-written file among those served
