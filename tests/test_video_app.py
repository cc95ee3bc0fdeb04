"""The Video tab's API (``/stylize_video``) on the real app served on 127.0.0.1, through ``gradio_client``: a
clip with a tone becomes a video of every frame with the sound kept, and every bad input is refused with its
message, before any work, leaving nothing running."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from benchmarks.clips import make_clip
from tests import video_files
from tests.app_server import EXAMPLES, decode_video
from webapp.jobs import Studio
from webapp.video_jobs import CPU_VIDEO, VideoJob, VideoStudio

pytestmark = pytest.mark.slow

STYLE = EXAMPLES / "style_swirls.jpg"


def stylize_video(client: Client, clip: Path, size: int = 64, iterations: int = 3):
    """The API call as the README shows it: clip, style, frame size, temporal weight, later frames' iterations."""
    return client.predict(
        handle_file(str(clip)), handle_file(str(STYLE)), size, 200, iterations, api_name="/stylize_video"
    )


def seconds(path: str, kind: str) -> float:
    with av.open(path) as container:
        stream = getattr(container.streams, kind)[0]
        return float(stream.duration * stream.time_base)


def test_a_clip_with_a_tone_comes_back_stylized_with_its_sound(client, studio, tmp_path):
    clip = make_clip(tmp_path / "toned.mp4", size=(96, 64), frames=6, rate=8, tone=True)
    begun = studio.meter.jobs_begun
    frame, status, video, download = stylize_video(client, clip)
    assert "Done" in status and "6 frames of 64×42 px" in status
    assert Image.open(frame).size == (64, 42)  # the last frame, as the page shows it
    path = video["video"] if isinstance(video, dict) else video
    assert decode_video(path) == (6, (64, 42))
    assert abs(seconds(path, "audio") - seconds(path, "video")) < 0.1
    assert Path(download).suffix == ".mp4"
    assert studio.meter.jobs_begun == begun + 1 and studio.meter.running == 0


def test_a_finished_clip_leaves_no_frame_in_its_session(studio, tmp_path):
    clip = make_clip(tmp_path / "short.mp4", size=(96, 64), frames=4, rate=8)
    job = VideoJob()
    *_, (frame, status, video, _) = VideoStudio(studio).stylize_video(clip, str(STYLE), 64, 200, 3, job)
    assert "Done" in status and frame.size == (64, 42) and decode_video(video) == (4, (64, 42))
    assert job.frames == [] and not job.running  # Gradio keeps the session, not its frames


def test_stop_through_the_api_answers_with_the_frames_made_so_far(client, studio, tmp_path):
    clip = make_clip(tmp_path / "long.mp4", size=(96, 64), frames=40, rate=8, tone=True)
    job = client.submit(handle_file(str(clip)), handle_file(str(STYLE)), 64, 200, 30, api_name="/stylize_video")
    deadline = time.monotonic() + 120
    while not _frames_done(job, 2):
        assert time.monotonic() < deadline and not job.done(), "the job never got past its second frame"
        time.sleep(0.2)
    status, video, download = client.predict(api_name="/stop_video")
    assert re.search(r"Stopped\*\* after \d+ of 40 frames", status), status
    made = int(re.search(r"after (\d+) of", status).group(1))
    path = video["video"] if isinstance(video, dict) else video
    assert 2 <= made < 40 and decode_video(path) == (made, (64, 42))
    assert abs(seconds(path, "audio") - made / 8) < 0.15  # the sound is cut to the frames kept
    assert Path(download).suffix == ".mp4"
    _wait_until_idle(studio)


def _frames_done(job, count: int) -> bool:
    """Whether the job's latest status says at least ``count`` frames are done."""
    outputs = job.outputs()
    found = re.search(r"· (\d+) frames done", str(outputs[-1][1])) if outputs else None
    return found is not None and int(found.group(1)) >= count


def _wait_until_idle(studio: Studio) -> None:
    deadline = time.monotonic() + 30
    while studio.meter.running:
        assert time.monotonic() < deadline, "the stopped job still runs"
        time.sleep(0.1)


def over_budget(folder: Path) -> Path:
    """A clip two seconds longer than the CPU's budget."""
    return video_files.long_clip(folder, int(CPU_VIDEO.max_seconds) + 2)


BAD_INPUTS: list[tuple[Callable[[Path], Path], str]] = [
    (video_files.renamed_photo, "This file is a picture (JPEG, 451×300), not a video"),
    (video_files.text_file, "This file is not a video in a format this app reads"),
    (video_files.truncated, "truncated or corrupt"),
    (video_files.no_frames, "This video has no frames"),
    (video_files.audio_only, "sound but no pictures (audio only)"),
    (video_files.huge_frames, "8192×6144 pixels (50 megapixels); this app reads frames of at most 40 megapixels"),
    (over_budget, f"this server stylises at most {CPU_VIDEO.max_seconds:g} s of video"),
    (video_files.one_frame, "only one frame"),
]


@pytest.mark.parametrize(("make", "message"), BAD_INPUTS, ids=[make.__name__ for make, _ in BAD_INPUTS])
def test_a_bad_clip_is_refused_with_its_message_before_any_work(client, studio, tmp_path, make, message):
    begun = studio.meter.jobs_begun
    with pytest.raises(AppError, match=re.escape(message)):
        stylize_video(client, make(tmp_path))
    assert studio.meter.jobs_begun == begun and studio.meter.running == 0
