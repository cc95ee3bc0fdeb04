"""One session's stylization job: its state, its stop signal, and what it has made so far."""

from __future__ import annotations

import enum
import threading
from typing import Any

from PIL import Image

from styletransfer import Progress

from . import render


class JobState(enum.Enum):
    """Where a job is: it waits for the device, runs, and ends stopped, done or failed."""

    IDLE = "idle"
    """No job yet in this session."""
    QUEUED = "queued"
    """Waiting for the device, which another job holds."""
    RUNNING = "running"
    STOPPED = "stopped"
    """Ended before its final picture: Stop, a closed tab, or a cancelled request."""
    DONE = "done"
    FAILED = "failed"


ENDED = frozenset({JobState.STOPPED, JobState.DONE, JobState.FAILED})


class StopSignal:
    """A job's Stop request and its end, shared by its generator (which checks :attr:`stop_requested` after every
    engine event and calls :meth:`_ended_now` as it closes) and its Stop button (which waits for the end)."""

    def __init__(self, ended: bool = False) -> None:
        self._stop = threading.Event()
        self._ended = threading.Event()
        if ended:
            self._ended.set()

    def _renew(self) -> None:
        """A new job begins: no Stop asked, not ended."""
        self._stop.clear()
        self._ended.clear()

    def _ended_now(self) -> None:
        self._ended.set()

    def request_stop(self) -> None:
        """Ask the job to end at its next engine event."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """Whether Stop has asked this job to end."""
        return self._stop.is_set()

    def wait_until_ended(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for the job to end; whether it has."""
        return self._ended.wait(timeout)


class Job(StopSignal):
    """One session's latest job, shared by its Stylize generator and its Stop button (a ``gr.State``).

    The generator moves it through its states and checks :attr:`stop_requested`
    after every engine event; Stop sets that signal and waits for :meth:`wait_until_ended`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.state = JobState.IDLE
        self.name: str | None = None
        """The content image's path, for naming the downloads."""
        self.iteration = 0
        self.total = 0
        self.elapsed = 0.0
        self.photo: Image.Image | None = None
        """The content image at the output size: the "before" of the before/after view."""
        self.latest: Image.Image | None = None
        self.frames: list[Image.Image] = []
        """The previews at their own size (see :func:`~webapp.render.video_frame`), for the progress video; thinned
        out evenly whenever there are more than :data:`~webapp.render.VIDEO_PREVIEWS`, and dropped once the video
        is made."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Job:
        """Gradio gives each session a deep copy of a ``gr.State``'s initial value: a copy is a new, idle job."""
        return Job()

    def queue(self, name: str | None, photo: Image.Image) -> None:
        """Forget the previous job and wait for the device to start a new one, of ``photo`` (at the output size)."""
        self._renew()
        self.state, self.name, self.photo = JobState.QUEUED, name, photo
        self.iteration, self.total, self.elapsed, self.latest, self.frames = 0, 0, 0.0, None, []

    def start(self) -> None:
        """The job has the device and its engine runs."""
        self.state = JobState.RUNNING

    def add(self, event: Progress) -> None:
        """Take in one engine event; the final one makes the job done."""
        self.iteration, self.total, self.elapsed = event.iteration, event.total_iterations, event.elapsed
        if event.image is not None:
            self.latest = event.image
            self.frames.append(render.video_frame(event.image))
            if len(self.frames) > render.VIDEO_PREVIEWS:
                self.frames = render.evenly(self.frames, render.VIDEO_PREVIEWS // 2)
        if event.final:
            self.state = JobState.DONE

    def fail(self) -> None:
        """The job could not go on (bad settings or images, out of memory)."""
        self.state = JobState.FAILED

    def end(self) -> None:
        """The job's generator is closing: a job neither done nor failed was stopped. Wakes whoever waits.

        A job done or failed lets go of its pictures (its outputs are written already); a stopped one keeps them
        for Stop's outputs, until :meth:`let_go`."""
        if self.state not in ENDED:
            self.state = JobState.STOPPED
        if self.state is not JobState.STOPPED:
            self.let_go()
        self._ended_now()

    def let_go(self) -> None:
        """Drop the photo, the latest picture and the previews: a session kept by Gradio then holds no pictures."""
        self.photo, self.latest, self.frames = None, None, []

    def video(self, files: render.OutputFiles, stem: str) -> str | None:
        """Save the progress video at the photo's size (see :meth:`~webapp.render.OutputFiles.save_video`) and
        let go of its frames."""
        frames, self.frames = self.frames, []
        return files.save_video(frames, self.photo.size, stem) if self.photo is not None else None
