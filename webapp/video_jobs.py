"""The work behind the Video tab: the Stylize-video and Stop callbacks, within the server's video budget.

A :class:`VideoStudio` shares its :class:`~webapp.jobs.Studio`'s backbones, device lock, work meter and output
files, so a video job and a photo job never overlap on the device. As for photos, the engine runs in a GPU
function (:meth:`VideoStudio.paint_video`, decorated for ZeroGPU) that takes one picklable :class:`VideoRequest`
and yields the engine's events; the frames made are gathered, and the MP4 written, in the main process.

A clip over the budget (:class:`VideoBounds`: seconds, frames, output size) is refused before any work, with a
message that says the limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr
from PIL import Image

from styletransfer import StyleConfig
from styletransfer.video import VideoProgress
from styletransfer.video_io import VideoError, VideoInfo, probe_video, write_video

from . import painting, render
from .job import StopSignal
from .jobs import STATUS_INTERVAL, STOP_WAIT, Studio
from .prefetch import prefetched
from .zerogpu import Failure, gpu_decorator

VideoOutputs = tuple[Any, Any, Any, Any]
"""What the Stylize-video callback yields: (current frame, status, result video, MP4 file)."""


@dataclass(frozen=True)
class VideoBounds:
    """The most one video job may ask for on this hardware, and the page's defaults."""

    max_seconds: float
    """Seconds of video."""
    max_frames: int
    max_size: int
    """Longest side of the output frames, in pixels."""
    default_size: int
    max_job_seconds: float
    """Wall time; the job then ends with the frames it has made, as a shorter video."""


#: On a CPU: a few seconds of small frames. A later frame at 128 px takes a few seconds on two cores (README,
#: "Video"), so a 5 s clip at 24 fps takes several minutes.
CPU_VIDEO = VideoBounds(max_seconds=5.0, max_frames=150, max_size=256, default_size=128, max_job_seconds=900.0)
#: On a GPU: longer clips at the photo's GPU size, within the time ZeroGPU lends a GPU (``zerogpu.GPU_SECONDS``).
GPU_VIDEO = VideoBounds(max_seconds=20.0, max_frames=600, max_size=1024, default_size=512, max_job_seconds=110.0)


def video_bounds_for(device_type: str) -> VideoBounds:
    """The video budget on a device of ``device_type``: :data:`CPU_VIDEO` on a CPU, :data:`GPU_VIDEO` elsewhere."""
    return CPU_VIDEO if device_type == "cpu" else GPU_VIDEO


@dataclass(frozen=True)
class VideoRequest:
    """Everything the device needs for one video job, and nothing that cannot pickle."""

    backbone: str
    video: VideoInfo
    styles: tuple[str | bytes, ...]
    config: StyleConfig


class VideoJob(StopSignal):
    """One session's latest video job (a ``gr.State``): its stop signal and the frames made so far."""

    def __init__(self) -> None:
        super().__init__(ended=True)
        self.info: VideoInfo | None = None
        self.frames: list[Image.Image] = []
        self.running = False

    def __deepcopy__(self, memo: dict[int, Any]) -> VideoJob:
        """Each session gets a new, idle job."""
        return VideoJob()

    def start(self, info: VideoInfo) -> None:
        """Forget the previous job; a new one, of the clip ``info``, waits for the device."""
        self._renew()
        self.info, self.frames, self.running = info, [], True

    def end(self) -> None:
        """The job's generator is closing; wakes whoever waits. Its frames are let go (a clip's frames are
        megabytes, and Gradio keeps many sessions), unless Stop asked for them."""
        self.running = False
        if not self.stop_requested:
            self.let_go()
        self._ended_now()

    def let_go(self) -> None:
        """Drop the frames made: the session then holds no pictures."""
        self.frames = []


class VideoStudio:
    """The Video tab's callbacks, on a :class:`~webapp.jobs.Studio`'s backbones and device."""

    def __init__(
        self,
        studio: Studio,
        bounds: VideoBounds | None = None,
        *,
        on_device: Callable[[Callable], Callable] | None = None,
    ) -> None:
        self.studio = studio
        self.bounds = bounds or video_bounds_for(studio.device.type)
        pool = studio.pool
        self._paint_on_device = (
            pool.paint_video if pool is not None else (on_device or gpu_decorator())(self.paint_video)
        )

    def default_config(self) -> StyleConfig:
        """The settings a clip is made with: the page's photo defaults at the video's default size."""
        return self.studio.defaults.updated(size=self.bounds.default_size)

    def stylize_video(
        self,
        video: str | None,
        style: str | None,
        size: float | None = None,
        temporal_weight: float | None = None,
        video_iterations: float | None = None,
        job: VideoJob | None = None,
    ) -> Iterator[VideoOutputs]:
        """Repaint the clip ``video`` in the style of ``style``, frame by frame, live: the current frame (a preview
        while it is made, then the finished frame), the status (frames done, time left), and at the end the
        video with the clip's sound and its MP4. Over-budget or unusable inputs raise ``gr.Error`` before any
        work. Stop on ``job`` (or closing this generator) keeps the frames made so far."""
        request, info = self._request(video, style, size, temporal_weight, video_iterations)
        job = job if job is not None else VideoJob()
        job.start(info)
        hardware = self.studio.hardware_line(self.studio.stylizer)
        lock = self.studio.device_lock
        try:
            while not lock.acquire(timeout=STATUS_INTERVAL):
                if job.stop_requested:
                    return
                yield None, render.waiting_status(hardware), None, None
            events = self._paint_on_device(request)
            try:
                self.studio.meter.begin()
                final = yield from self._run(events, job, hardware)
            finally:
                events.close()
                self.studio.meter.end()
                lock.release()
            if final is not None and not job.stop_requested:
                path = self._save(job)
                yield job.frames[-1], done_status(final, job, hardware), path, path
        finally:
            job.end()

    def paint_video(self, request: VideoRequest) -> Iterator[VideoProgress | Failure]:
        """The GPU function: :func:`webapp.painting.paint_video` on the studio's backbones."""
        yield from prefetched(painting.paint_video(self.studio.backbones, request))

    def _run(self, events: Iterator[VideoProgress | Failure], job: VideoJob, hardware: str) -> Iterator[VideoOutputs]:
        """The outputs while the job has the device; returns its final event, or ``None`` when stopped."""
        yield None, render.starting_status(hardware), None, None
        last_yield = time.monotonic()
        for event in events:
            if isinstance(event, Failure):
                raise gr.Error(event.message, title="Cannot stylize this video")
            self.studio.meter.iteration()
            if job.stop_requested:
                return None
            if event.final:
                return event
            if event.frame_done:
                job.frames.append(event.image)
            if event.image is not None or time.monotonic() - last_yield >= STATUS_INTERVAL:
                status = running_status(event, hardware)
                yield (gr.skip() if event.image is None else event.image), status, gr.skip(), gr.skip()
                last_yield = time.monotonic()
        return None

    def stop(self, job: VideoJob) -> tuple[Any, Any, Any]:
        """Stop the session's job and offer the frames made so far as a shorter video: (status, video, file)."""
        if not job.running:
            return gr.skip(), gr.skip(), gr.skip()
        job.request_stop()
        job.wait_until_ended(STOP_WAIT)
        if not job.frames:
            return "**Stopped** before the first frame was finished.", None, None
        path, made = self._save(job), len(job.frames)
        job.let_go()
        total = job.info.frames if job.info is not None else made
        return f"**Stopped** after {made} of {total} frames; they are kept as a shorter video.", path, path

    def _save(self, job: VideoJob) -> str:
        """The frames made, as an MP4 with the clip's sound (cut to their length)."""
        info = job.info
        stem = render.file_stem(info.path, job.frames[0].size)
        path = self.studio.files.path_for(f"{stem}.mp4")
        write_video(job.frames, info.rate, path, audio_from=info.path if info.has_audio else None)
        return str(path)

    def _request(
        self,
        video: str | None,
        style: str | None,
        size: float | None,
        temporal_weight: float | None,
        video_iterations: float | None,
    ) -> tuple[VideoRequest, VideoInfo]:
        """Check the inputs against the budget and the engine, decoding nothing but the clip's first frame."""
        if video is None:
            raise gr.Error("Please add a video clip to repaint.", title="No video")
        if style is None:
            raise gr.Error("Please add a style image: the painting whose style to copy.", title="No style image")
        bounds = self.bounds
        try:
            info = probe_video(video)
        except VideoError as error:
            raise gr.Error(str(error), title="Cannot use this video") from None
        size = int(size) if size is not None else bounds.default_size
        if size > bounds.max_size:
            raise gr.Error(f"The output size may be at most {bounds.max_size} px on this server; got {size}.")
        if info.duration > bounds.max_seconds + 0.5 / float(info.rate):
            raise gr.Error(
                f"This clip is {info.duration:.1f} s long; this server stylises at most {bounds.max_seconds:g} s of "
                "video. Trim the clip and try again.",
                title="Clip too long",
            )
        if info.frames > bounds.max_frames:
            raise gr.Error(
                f"This clip has {info.frames} frames; this server stylises at most {bounds.max_frames} frames "
                "(a lower frame rate or a shorter clip).",
                title="Clip too long",
            )
        changes = {
            "size": size,
            "time_limit": bounds.max_job_seconds,
            "preview_every": 5 if self.studio.device.type == "cpu" else 0,  # a frame takes seconds there
            "work_limit": None,
        }
        if temporal_weight is not None:
            changes["temporal_weight"] = float(temporal_weight)
        if video_iterations is not None:
            changes["video_iterations"] = int(video_iterations)
        try:
            config = self.default_config().updated(**changes)
            backbone = self.studio.backbones.default
            stylizer = self.studio.backbones.get(backbone)
            stylizer.stylize_video(info, [style], config).close()  # checks the style and the settings
        except ValueError as error:
            raise gr.Error(str(error), title="Cannot stylize this video") from None
        return VideoRequest(backbone, info, (style,), config), info


def running_status(event: VideoProgress, hardware: str) -> str:
    """The status while a clip is made: the frame, frames done, time elapsed and left."""
    return (
        f"**Painting…** frame {event.frame + 1}/{event.frames} · {event.frame + event.frame_done} frames done · "
        f"{render.clock(event.elapsed)} elapsed · about {render.clock(event.seconds_left)} left"
        f"\n\n{hardware}"
    )


def done_status(event: VideoProgress, job: VideoJob, hardware: str) -> str:
    """The status once the clip is made (or ended at the time limit)."""
    note = f" {event.note}" if event.note else ""
    width, height = job.frames[-1].size
    return (
        f"**Done** in {render.clock(event.elapsed)} · {len(job.frames)} frames of {width}×{height} px.{note} "
        f"Download the MP4 below.\n\n{hardware}"
    )
