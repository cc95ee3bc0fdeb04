"""Test clips made from the example photos: a camera panning and zooming over a photo while an object (a disc cut
from another photo) moves across it, so that the clip has both smooth motion and occlusions. No video is ever
downloaded: the benchmark and the tests make theirs with :func:`make_clip`.

Options make the awkward kinds of file a user may bring: a sine tone as the audio track, rotation metadata (a
phone held upright), a variable frame rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: The tone's pitch (Hz) and sample rate.
TONE_HZ = 440
SAMPLE_RATE = 22050


@dataclass(frozen=True)
class Shot:
    """One clip's camera and object: the photo filmed, the photo the moving disc is cut from, and the motion."""

    photo: str
    """A file under ``examples/``."""
    disc: str
    """The file under ``examples/`` whose centre makes the disc."""
    pan: float = 0.35
    """How far the camera moves across the photo, as a share of its width (negative: to the left)."""
    zoom: float = 1.3
    """How much closer the camera is at the end than at the start."""
    disc_path: tuple[float, float, float, float] = (1.1, 0.55, -0.15, 0.4)
    """The disc's centre at the start and the end, as shares of the frame's (width, height): (x0, y0, x1, y1)."""


#: The benchmark's shots: three photos, each crossed by a disc of another.
SHOTS = {
    "cat": Shot("cat.jpg", "coffee.jpg"),
    "coffee": Shot("coffee.jpg", "astronaut.jpg", pan=-0.3, zoom=1.2, disc_path=(-0.15, 0.35, 1.1, 0.6)),
    "rocket": Shot("rocket.jpg", "cat.jpg", pan=0.2, zoom=1.4, disc_path=(0.2, 1.15, 0.75, -0.15)),
}


def frame_at(shot: Shot, size: tuple[int, int], progress: float) -> Image.Image:
    """The shot's picture at ``progress`` (0: the start, 1: the end), of ``size`` (width, height)."""
    photo = Image.open(EXAMPLES / shot.photo).convert("RGB")
    width, height = size
    zoom = 1 + (shot.zoom - 1) * progress
    # The widest window of the frame's aspect ratio that fits the photo, narrowed by the zoom and panned.
    window_w = min(photo.width * (1 - 0.9 * abs(shot.pan)), 0.9 * photo.height * width / height) / zoom
    window_h = window_w * height / width
    centre_x = photo.width / 2 + shot.pan * photo.width * (progress - 0.5) * 0.9
    centre_y = photo.height / 2 + 0.05 * photo.height * math.sin(math.pi * progress)
    box = (centre_x - window_w / 2, centre_y - window_h / 2, centre_x + window_w / 2, centre_y + window_h / 2)
    frame = photo.resize(size, Image.Resampling.BICUBIC, box=box)
    radius = round(0.22 * min(size))
    disc = Image.open(EXAMPLES / shot.disc).convert("RGB")
    side = min(disc.size)
    disc = disc.crop(
        ((disc.width - side) // 2, (disc.height - side) // 2, (disc.width + side) // 2, (disc.height + side) // 2)
    )
    disc = disc.resize((2 * radius, 2 * radius), Image.Resampling.LANCZOS).rotate(90 * progress)
    mask = Image.new("L", disc.size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, 2 * radius - 1, 2 * radius - 1), fill=255)
    x0, y0, x1, y1 = shot.disc_path
    x = (x0 + (x1 - x0) * progress) * width
    y = (y0 + (y1 - y0) * progress) * height
    frame.paste(disc, (round(x - radius), round(y - radius)), mask)
    return frame


def make_clip(
    path: str | Path,
    shot: Shot = SHOTS["cat"],
    *,
    size: tuple[int, int] = (96, 64),
    frames: int = 8,
    rate: int = 8,
    tone: bool = False,
    rotation: int = 0,
    variable_rate: bool = False,
) -> Path:
    """Write a clip of ``shot`` to ``path`` (MP4, H.264): ``frames`` frames of ``size`` at ``rate`` per second.

    ``tone``: an audio track, a sine at :data:`TONE_HZ` as long as the video. ``rotation``: display-rotation
    metadata, degrees counterclockwise (the frames are stored as they are; a player turns them). ``variable_rate``:
    frames held for alternately half and one and a half of ``1 / rate`` (the same average rate)."""
    path = Path(path)
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=rate, options={"crf": "16", "preset": "fast"})
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        if variable_rate:
            video.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            video.set_display_rotation(rotation)
        audio = container.add_stream("aac", rate=SAMPLE_RATE) if tone else None
        moment = 0.0
        for index in range(frames):
            picture = frame_at(shot, size, index / max(1, frames - 1))
            frame = av.VideoFrame.from_image(picture).reformat(format="yuv420p")
            if variable_rate:
                frame.pts, frame.time_base = round(moment * 1000), Fraction(1, 1000)
                moment += (0.5 if index % 2 == 0 else 1.5) / rate
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            _write_tone(container, audio, frames / rate)
    return path


def _write_tone(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float) -> None:
    """A sine tone of ``seconds`` into the audio ``stream``, in frames of 1024 samples."""
    samples = round(seconds * SAMPLE_RATE)
    wave = (0.3 * np.sin(2 * np.pi * TONE_HZ * np.arange(samples) / SAMPLE_RATE)).astype(np.float32)
    for start in range(0, samples, 1024):
        chunk = wave[start : start + 1024].reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
