"""Repainting a clip frame by frame, each frame kept consistent with the one before it (Ruder et al., 2016).

Each frame is one job of the engine (:meth:`~styletransfer.engine.Stylizer.stylize`). The first is a whole job,
coarse to fine. Every later frame starts from the previous stylised frame warped along the optical flow (computed
on the input frames; :mod:`styletransfer.flow`), at the output size only, for ``video_iterations`` iterations, with
one more loss term: the :class:`~styletransfer.losses.TemporalLoss`, which holds it to that warped frame wherever
the flow can be trusted. Where it cannot (occlusions, motion boundaries), the style and content losses alone
repaint what came into view. A ``temporal_weight`` of 0 makes every frame a whole job of its own: the
independent frames that flicker.

:func:`stylize_video` is a generator of :class:`VideoProgress` events; closing it (Stop) ends the work after the
current iteration and, given an ``output``, writes the frames made so far as a shorter video.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from PIL import Image

from . import images
from .config import StyleConfig
from .engine import Progress, _style_max_side, job_work, scale_plan
from .flow import optical_flow, reliable, warp
from .losses import TemporalLoss
from .video_io import VideoInfo, output_size, probe_video, read_frames, write_video

if TYPE_CHECKING:
    import os

    from .engine import Stylizer


@dataclass(frozen=True)
class VideoProgress:
    """One report of a video job: after every iteration of the frame being made, and once at the end."""

    frame: int
    """The frame being made (0-based); the number of frames made when ``final``."""
    frames: int
    """Frames in the whole clip."""
    progress: Progress | None
    """The current frame's engine event (``None`` in the final report)."""
    elapsed: float
    """Seconds since the job started."""
    fraction_done: float
    """Share of the whole clip's work done (the first frame, a whole job, weighs more than the later ones)."""
    image: Image.Image | None = None
    """A preview of the current frame, or the finished frame when ``frame_done``."""
    frame_done: bool = False
    final: bool = False
    output: str | None = None
    """The video written, in the final report (when an output was asked for)."""
    note: str | None = None
    """Why the job ended early, when it did (the time limit)."""

    @property
    def seconds_left(self) -> float:
        """An estimate of the time still needed, from the pace so far."""
        if self.fraction_done <= 0:
            return float("nan")
        return self.elapsed * (1 - self.fraction_done) / self.fraction_done


def stylize_video(
    stylizer: Stylizer,
    video: str | os.PathLike | VideoInfo,
    styles: images.ImageInput | Sequence[images.ImageInput],
    config: StyleConfig | None = None,
    *,
    output: str | os.PathLike | None = None,
    **settings,
) -> Iterator[VideoProgress]:
    """Repaint the clip ``video`` in the style of ``styles``, frame by frame (see the module's doc).

    ``config`` and ``settings`` as for :meth:`~styletransfer.engine.Stylizer.stylize`: ``size`` is the frames'
    long side (even sides, never more than the clip's own), ``temporal_weight`` and ``video_iterations`` shape the
    later frames, and ``time_limit`` bounds the whole clip (it then ends with the frames made). With ``output``, an
    H.264 MP4 at the clip's frame rate, with its audio, is written there at the end, or when the generator is
    closed early (with the frames made so far). Bad files, images or settings raise at once.
    """
    config = config or StyleConfig()
    if settings:
        config = config.updated(**settings)
    info = video if isinstance(video, VideoInfo) else probe_video(video)
    style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    style_images = [images.load_image(s, max_side=_style_max_side(config), name="style image") for s in style_list]
    size = output_size(info.size, config.size)
    blank = Image.new("RGB", size)
    stylizer.stylize(blank, style_images, config).close()  # checks the styles and settings against this size
    return _frames(stylizer, info, style_images, config, size, None if output is None else str(output))


def _frames(
    stylizer: Stylizer,
    info: VideoInfo,
    styles: list[Image.Image],
    config: StyleConfig,
    size: tuple[int, int],
    output: str | None,
) -> Iterator[VideoProgress]:
    """The job itself: the frames read, then made one by one; the video written however the job ends but by an
    error."""
    start = time.perf_counter()
    frames = read_frames(info, size)
    consistent = config.temporal_weight > 0
    later = config.updated(iterations=config.video_iterations)
    first_work = job_work(scale_plan(size, config))
    later_work = job_work([(size, later.iterations)]) if consistent else first_work
    total_work = first_work + later_work * (len(frames) - 1)
    made: list[Image.Image] = []
    note = None

    def save() -> str | None:
        if output is None or not made:
            return None
        write_video(made, info.rate, output, audio_from=info.path if info.has_audio else None)
        return output

    try:
        for index, frame in enumerate(frames):
            elapsed = time.perf_counter() - start
            if config.time_limit is not None and elapsed >= config.time_limit:
                note = f"Stopped at the {config.time_limit:g} s time limit after {len(made)} of {len(frames)} frames."
                break
            remaining = None if config.time_limit is None else config.time_limit - elapsed
            if index == 0 or not consistent:
                job = stylizer.stylize(frame, styles, config.updated(time_limit=remaining))
            else:
                initial, temporal = _held_to_previous(stylizer, made[-1], frames[index - 1], frame, config)
                job = stylizer.stylize(
                    frame,
                    styles,
                    later.updated(time_limit=remaining),
                    initial=initial,
                    extra_terms={"temporal": temporal},
                )
            done_before = first_work + later_work * (index - 1) if index else 0.0
            work = first_work if index == 0 else later_work
            for event in job:
                fraction = (done_before + work * event.fraction_done) / total_work
                if event.final:
                    made.append(event.image)
                yield VideoProgress(
                    frame=index,
                    frames=len(frames),
                    progress=event,
                    elapsed=time.perf_counter() - start,
                    fraction_done=fraction,
                    image=event.image,
                    frame_done=event.final,
                )
    except GeneratorExit:
        save()  # Stop: the frames so far, as a shorter video
        raise
    yield VideoProgress(
        frame=len(made),
        frames=len(frames),
        progress=None,
        elapsed=time.perf_counter() - start,
        fraction_done=1.0 if len(made) == len(frames) else len(made) / len(frames),
        image=made[-1] if made else None,
        final=True,
        output=save(),
        note=note,
    )


def _held_to_previous(
    stylizer: Stylizer, previous: Image.Image, before: Image.Image, frame: Image.Image, config: StyleConfig
) -> tuple[Image.Image, TemporalLoss]:
    """The previous stylised frame warped to ``frame`` along the input's flow (from ``before``, the previous input
    frame), as the starting picture, and the temporal loss that holds the frame to it where the flow is trusted."""
    backward = optical_flow(frame, before)
    trust = torch.from_numpy(reliable(backward, optical_flow(before, frame)))[None, None].to(stylizer.device)
    warped = warp(images.to_tensor(previous, stylizer.device), backward).clamp(0, 1)
    return images.to_image(warped), TemporalLoss(warped, trust, config.temporal_weight)
