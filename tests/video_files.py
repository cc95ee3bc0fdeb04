"""Video files a user may bring that the app must refuse, each made here in a few milliseconds."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from benchmarks.clips import _write_tone, make_clip

from .conftest import EXAMPLES


def renamed_photo(folder: Path) -> Path:
    """A JPEG named as a video."""
    path = folder / "photo.mp4"
    path.write_bytes((EXAMPLES / "cat.jpg").read_bytes())
    return path


def text_file(folder: Path) -> Path:
    """A text file named as a video."""
    path = folder / "notes.mp4"
    path.write_text("Not a video at all, just some notes.\n" * 20)
    return path


def truncated(folder: Path) -> Path:
    """The first half of a clip (its index comes last, so what is left cannot be read)."""
    whole = make_clip(folder / "whole.mp4", frames=6)
    path = folder / "truncated.mp4"
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def no_frames(folder: Path) -> Path:
    """An MP4 made with a video stream but not one frame."""
    path = folder / "empty.mp4"
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=8)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    return path


def audio_only(folder: Path) -> Path:
    """An MP4 with a tone and no video stream."""
    path = folder / "tone.mp4"
    with av.open(str(path), mode="w") as container:
        _write_tone(container, container.add_stream("aac", rate=22050), 1.0)
    return path


def huge_frames(folder: Path) -> Path:
    """One flat frame of 8192×6144 (50 megapixels): a few kilobytes."""
    path = folder / "huge.mp4"
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=2, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = 8192, 6144, "yuv420p"
        flat = np.full((6144, 8192, 3), 128, dtype=np.uint8)
        container.mux(video.encode(av.VideoFrame.from_ndarray(flat, format="rgb24").reformat(format="yuv420p")))
        container.mux(video.encode(None))
    return path


def long_clip(folder: Path, seconds: int) -> Path:
    """A clip of ``seconds`` at 2 frames a second."""
    return make_clip(folder / "long.mp4", size=(64, 48), frames=2 * seconds, rate=2)


def one_frame(folder: Path) -> Path:
    """A clip of a single frame."""
    return make_clip(folder / "still.mp4", frames=1)
