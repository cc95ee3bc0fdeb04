"""What the page shows besides the picture: status lines, the loss curve, and the files to download."""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import av
import pandas as pd
from PIL import Image

from styletransfer import Progress, Stylizer

from .sweeper import keep_files_seconds

SOURCE_LABELS = {"hub": "Hugging Face Hub", "bundled": "bundled with the app", "file": "local file"}
#: Loss values are plotted on a log scale; this floor keeps a zero content loss (the first step) on the chart.
LOSS_FLOOR = 1e-4
#: Longest side of the progress video, in pixels: bigger results give a video scaled down to this.
VIDEO_SIDE = 1024
#: Longest side of the previews sent to the page while a job runs; only the final picture comes at full size (up to
#: 8192 px on a GPU, where each preview at that size would take seconds to encode and send).
PREVIEW_SIDE = 1024
#: Previews shown per second in the progress video.
VIDEO_FPS = 8
#: The video shows its last picture this many times over (one second's worth of frames).
HOLD_FRAMES = VIDEO_FPS
#: At most this many previews in the video (30 s at most); longer runs are sampled evenly.
VIDEO_PREVIEWS = 240


def clock(seconds: float) -> str:
    """``seconds`` as ``m:ss`` (or ``h:mm:ss``); an ellipsis while it is not known yet."""
    if not math.isfinite(seconds):
        return "…"
    minutes, secs = divmod(round(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def hardware_line(stylizer: Stylizer) -> str:
    """Device, precision, backbone and where its weights came from, for the status box."""
    source = SOURCE_LABELS.get(stylizer.weights.source, stylizer.weights.source)
    return f"{stylizer.description} ({source})"


def starting_status(hardware: str) -> str:
    """The status before the first iteration: the style targets are being computed."""
    return f"**Starting…** preparing the images and the style targets.\n\n{hardware}"


def waiting_status(hardware: str) -> str:
    """The status while another job holds the device."""
    return f"**Waiting…** another picture is being painted; this one starts as soon as it is done.\n\n{hardware}"


def running_status(event: Progress, hardware: str, seconds_left: float | None = None) -> str:
    """The status during a run: scale (and its tiles, when it is cut to fit in memory), iteration, elapsed time
    and the time left (``seconds_left``, or the engine's own estimate when it is ``None``)."""
    width, height = event.size
    left = event.seconds_left if seconds_left is None else seconds_left
    tiles = f" in {event.tiles} tiles" if event.tiles > 1 else ""
    return (
        f"**Painting…** scale {event.scale + 1}/{event.scales} ({width}×{height} px{tiles}) · "
        f"iteration {event.iteration}/{event.total_iterations} · {clock(event.elapsed)} elapsed · "
        f"about {clock(left)} left\n\n{hardware}"
    )


def done_status(event: Progress, hardware: str) -> str:
    """The status after the final iteration (which comes early when the time limit ends the job)."""
    width, height = event.image.size
    note = f" {event.note}" if event.note else ""
    return (
        f"**Done** in {clock(event.elapsed)} · {width}×{height} px · {event.iteration} "
        f"iteration{'' if event.iteration == 1 else 's'}.{note} "
        f"Download the lossless PNG below.\n\n{hardware}"
    )


def stopped_status(iteration: int, total: int, elapsed: float, has_picture: bool) -> str:
    """The status after Stop."""
    if iteration == 0:
        return "**Stopped** before the first iteration."
    kept = "The latest picture is kept and can be downloaded below." if has_picture else "No picture yet."
    return f"**Stopped** at iteration {iteration}/{total} after {clock(elapsed)}. {kept}"


class LossCurve:
    """The loss terms of every iteration so far, as the engine weighed them, in the long format the loss plot reads."""

    COLUMNS = ("iteration", "term", "loss")
    #: The terms plotted (the smoothness term is left out: it is small and would crowd the chart).
    TERMS = ("total", "style", "content")

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, float]] = []

    def add(self, event: Progress) -> None:
        """Record one iteration's total, style and content losses."""
        self.rows.extend((event.iteration, term, event.losses[term]) for term in self.TERMS)

    def frame(self) -> pd.DataFrame:
        """The curve so far, with losses as log10 values."""
        frame = pd.DataFrame(self.rows, columns=list(self.COLUMNS))
        frame["loss"] = frame["loss"].clip(lower=LOSS_FLOOR).map(math.log10)
        return frame


def video_frame(image: Image.Image) -> Image.Image:
    """A preview as kept for the progress video: at its own size, shrunk to :data:`VIDEO_SIDE` when larger."""
    frame = image.copy()
    frame.thumbnail((VIDEO_SIDE, VIDEO_SIDE), Image.Resampling.LANCZOS)
    return frame


def display_size(size: tuple[int, int]) -> tuple[int, int]:
    """The (width, height) that previews of a picture of ``size`` are sent at: ``size``, shrunk to
    :data:`PREVIEW_SIDE` on the long side when larger."""
    scale = min(1.0, PREVIEW_SIDE / max(size))
    return tuple(max(1, round(side * scale)) for side in size)  # type: ignore[return-value]


def at_size(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` scaled to ``size`` (a coarse preview to the final picture's size), or itself when it has it."""
    return image if image.size == size else image.resize(size, Image.Resampling.BICUBIC)


def video_size(size: tuple[int, int]) -> tuple[int, int]:
    """The progress video's (width, height) for a picture of ``size``: at most :data:`VIDEO_SIDE` on the long side,
    and even (H.264 in yuv420p needs it), rounding down."""
    scale = min(1.0, VIDEO_SIDE / max(size))
    return tuple(max(2, int(side * scale) // 2 * 2) for side in size)  # type: ignore[return-value]


def write_video(frames: Sequence[Image.Image], size: tuple[int, int], path: Path) -> None:
    """Encode ``frames``, each scaled to ``size``, as an H.264 MP4 at :data:`VIDEO_FPS`, the last one held
    for :data:`HOLD_FRAMES` frames. ``size`` must be even (see :func:`video_size`)."""
    pictures = [at_size(frame.convert("RGB"), size) for frame in frames]
    pictures += [pictures[-1]] * (HOLD_FRAMES - 1)
    with av.open(str(path), mode="w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=VIDEO_FPS, options={"crf": "20", "preset": "fast"})
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for picture in pictures:
            frame = av.VideoFrame.from_image(picture).reformat(format="yuv420p")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def evenly(items: Sequence, count: int) -> list:
    """At most ``count`` of ``items``, evenly spaced, always keeping the first and the last."""
    if len(items) <= count:
        return list(items)
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


class OutputFiles:
    """The files offered for download, each in its own folder (so it keeps a readable name).

    Folders older than ``keep_seconds`` (default: :func:`~webapp.sweeper.keep_files_seconds`) are removed whenever a
    new one is made; Gradio serves its own copy of each file, so only recent ones are needed.
    """

    def __init__(self, root: str | Path | None = None, keep_seconds: float | None = None) -> None:
        self.root = Path(root) if root else Path(tempfile.gettempdir()) / "styletransfer-app"
        self.keep_seconds = keep_files_seconds() if keep_seconds is None else keep_seconds

    def save_png(self, image: Image.Image, stem: str) -> str:
        """Save ``image`` as a lossless PNG and return its path."""
        path = self._new_folder() / f"{stem}.png"
        image.save(path, format="PNG")
        return str(path)

    def save_video(self, frames: Sequence[Image.Image], size: tuple[int, int], stem: str) -> str | None:
        """Save the previews ``frames`` as the progress video for a picture of ``size`` (see :func:`write_video`)
        and return its path; ``None`` without frames."""
        if not frames:
            return None
        path = self._new_folder() / f"{stem}-progress.mp4"
        write_video(frames, video_size(size), path)
        return str(path)

    def path_for(self, name: str) -> Path:
        """Where to write a download called ``name``: in a folder of its own."""
        return self._new_folder() / name

    def _new_folder(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - self.keep_seconds
        for old in self.root.iterdir():
            if old.is_dir() and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=self.root))


def file_stem(content_path: str | None, size: tuple[int, int]) -> str:
    """A download name such as ``coffee-stylized-384x256`` from the content file's name and the output size."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(content_path).stem if content_path else "").strip("-")[:40]
    return f"{name or 'picture'}-stylized-{size[0]}x{size[1]}"
