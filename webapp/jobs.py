"""The work behind the page: the Stylize, Stop and example callbacks.

:class:`Studio` is built once per process. It holds the loaded
:class:`~webapp.backbones.Backbones`, the page's defaults and bounds, the output
files and a :class:`~webapp.meter.WorkMeter`; its callbacks turn the engine's
:class:`~styletransfer.Progress` events into the page's outputs, and move each
session's :class:`~webapp.job.Job` through its states. Its device lock is the one
thing that keeps one job at a time on the device (or on each worker of a Ray pool, :mod:`webapp.pool`).

The engine itself runs in :meth:`Studio.paint`, the GPU function: on a ZeroGPU Space
it runs in a GPU process (see :mod:`webapp.zerogpu`), so it takes and yields only
what pickles, and the job's state, the lock, Stop and the files stay here.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import gradio as gr
import torch
from PIL import Image

from styletransfer import Progress, StyleConfig, Stylizer, load_image, scale_plan

from . import painting, render
from .backbones import Backbones
from .fitting import FittedDefaults, ServedPace, Speed, TimeLeft, fit_defaults, measure_speed
from .job import Job, JobState
from .masks import user_regions
from .meter import WorkMeter
from .options import Bounds, bounds_for, build_config, defaults_for, options_from_config
from .prefetch import prefetched
from .zerogpu import Failure, Request, gpu_decorator

if TYPE_CHECKING:
    from .pool import AppPool

#: Between previews, the status line is refreshed at most this often (seconds). Each refresh is also a
#: point where Gradio's cancel takes effect, so this bounds how long it waits on top of the current iteration.
STATUS_INTERVAL = 0.5
#: Stop waits at most this long (seconds) for the engine to finish its current iteration.
STOP_WAIT = 30.0

Outputs = tuple[Any, Any, Any, Any, Any, Any]
"""What the Stylize callback yields: (picture, loss curve, status, PNG file, progress video, before/after pair)."""
KEEP: Any = object()
"""An output value meaning "leave what the page shows"."""


def outputs(
    image: Any = KEEP,
    plot: Any = KEEP,
    status: Any = KEEP,
    download: Any = KEEP,
    video: Any = KEEP,
    comparison: Any = KEEP,
) -> Outputs:
    """The Stylize callback's outputs in page order; those left out keep what the page shows, ``None`` clears."""
    values = (image, plot, status, download, video, comparison)
    return tuple(gr.skip() if value is KEEP else value for value in values)  # type: ignore[return-value]


class Studio:
    """The loaded backbones, the page's defaults and bounds, and the page's callbacks. Build it once per process
    and share it."""

    def __init__(
        self,
        stylizer: Stylizer | Backbones,
        *,
        torchvision_source: str = "hub",
        defaults: StyleConfig | None = None,
        bounds: Bounds | None = None,
        files: render.OutputFiles | None = None,
        on_device: Callable[[Callable], Callable] | None = None,
        pool: AppPool | None = None,
    ) -> None:
        """``stylizer`` is the default backbone, already loaded (or all of them); ``torchvision_source`` is where
        the other kind of weights comes from if a user picks it (``"hub"`` or a safetensors path).
        ``defaults`` are the settings the page starts with (see :func:`~webapp.options.defaults_for`);
        ``bounds`` the most one job may ask for (see :func:`~webapp.options.bounds_for`); ``on_device`` decorates
        :meth:`paint` to run it on the device (default: :func:`~webapp.zerogpu.gpu_decorator`). With a ``pool``
        (see :mod:`webapp.pool`), jobs run on its workers instead, as many at once as it has; ``stylizer`` then
        only checks each job's inputs and settings."""
        self.backbones = (
            stylizer if isinstance(stylizer, Backbones) else Backbones(stylizer, torchvision_source=torchvision_source)
        )
        self.pool = pool
        self.defaults = defaults or defaults_for(self.device)
        self.fitted: FittedDefaults | None = None
        """What :meth:`fit_defaults` chose, once it has run."""
        self.speed: Speed | None = None
        """The device's speed, once :meth:`fit_defaults` has measured it: it gives the time left of each job."""
        self.pace = ServedPace()
        """How the finished jobs ran against :attr:`speed`'s predictions: it corrects the next job's time left."""
        self.bounds = bounds or bounds_for(self.device)
        self.files = files or render.OutputFiles()
        self.meter = WorkMeter()
        self._paint_on_device = pool.paint if pool is not None else (on_device or gpu_decorator())(self.paint)
        self._device = threading.Lock() if self.slots == 1 else threading.BoundedSemaphore(self.slots)
        """Held by each job using a device (the device, or one of the pool's workers): the one thing that keeps
        more jobs than there are devices from running at once. The queue (``layout.DEVICE_QUEUE``) orders them, but
        Gradio starts the next job as soon as one is cancelled, while the cancelled engine may still be finishing
        its iteration."""

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] = os.environ, *, device: str | None = None, **settings: Any
    ) -> Studio:
        """Load the default backbone from :data:`~webapp.backbones.WEIGHTS_ENV` (``auto`` when unset) on ``device``
        (default: the fastest there is); ``settings`` as for the constructor."""
        return cls(Backbones.from_environment(environ, device=device), **settings)

    @property
    def stylizer(self) -> Stylizer:
        """The default backbone, loaded at start-up."""
        return self.backbones.stylizer

    @property
    def device(self) -> torch.device:
        """Where the jobs run: the pool's workers' kind of device, or the default backbone's."""
        return self.pool.device if self.pool is not None else self.stylizer.device

    @property
    def slots(self) -> int:
        """How many jobs may run at once: the pool's workers, or one."""
        return self.pool.size if self.pool is not None else 1

    @property
    def device_lock(self) -> threading.Lock | threading.BoundedSemaphore:
        """Held by whichever job uses a device, photo or video: :attr:`slots` at a time."""
        return self._device

    def hardware_line(self, stylizer: Stylizer) -> str:
        """Where a job with ``stylizer``'s backbone runs, for the status box."""
        return self.pool.hardware_line(stylizer) if self.pool is not None else render.hardware_line(stylizer)

    @property
    def notice(self) -> str | None:
        """A message about the weights for the page, such as why the Hub was not used."""
        return self.stylizer.weights.notice

    def default_options(self) -> dict[str, Any]:
        """The option values the page starts with."""
        return options_from_config(self.defaults, self.backbones.default)

    def warm_up(self) -> None:
        """Run two tiny iterations, so that the first user does not pay for one-off kernel set-up."""
        image = Image.linear_gradient("L").convert("RGB").resize((64, 64))
        config = self.defaults.updated(size=64, scales=1, iterations=2, preview_every=0)
        for _ in self.stylizer.stylize(image, image, config):
            pass

    def fit_defaults(self, target: float) -> FittedDefaults:
        """Time this device and make the page's defaults a job of about ``target`` seconds (see
        :mod:`webapp.fitting`); run it after :meth:`warm_up`."""
        self.speed = (
            self.pool.measure_speed(self.defaults) if self.pool else measure_speed(self.stylizer, self.defaults)
        )
        self.fitted = fit_defaults(self.defaults, self.speed, target)
        self.defaults = self.fitted.config
        return self.fitted

    def stylize(
        self,
        content: str | None,
        style: str | None,
        second_style: str | None = None,
        job: Job | None = None,
        *,
        regions: dict[str, Any] | None = None,
        mask: str | None = None,
        second_mask: str | None = None,
        keep_mask: str | None = None,
        **options: Any,
    ) -> Iterator[Outputs]:
        """Repaint ``content`` in the style of ``style`` (blended with ``second_style``, if given), live.

        ``options`` are the Advanced panel's values (see :data:`~webapp.options.OPTION_NAMES`). The regions come
        from the editor's layers (``regions``) or the mask files (see :func:`~webapp.masks.user_regions`).
        Yields the page's outputs: a waiting line while another job holds the device,
        then a preview (scaled to the output size) and the loss curve every
        ``preview_every`` iterations, the status line in between, and the final
        picture with its PNG, progress video and before/after pair at the end.
        Closing this generator, or Stop on ``job``, stops the engine.
        """
        given = {"editor": regions, "mask": mask, "second_mask": second_mask, "keep_mask": keep_mask}
        request, stylizer, photo = self._request(content, style, second_style, given, options)
        hardware = self.hardware_line(stylizer)
        job = job if job is not None else Job()
        job.queue(content, photo)
        try:
            while not self._device.acquire(timeout=STATUS_INTERVAL):
                if job.stop_requested:
                    return
                yield outputs(status=render.waiting_status(hardware))
            events = self._paint_on_device(request)
            started = time.monotonic()
            try:
                job.start()
                self.meter.begin()
                ended = yield from self._run(events, job, request.config, photo, hardware)
            finally:
                events.close()  # on ZeroGPU this returns once the GPU process has closed the engine
                self.meter.end()
                self._device.release()
            if ended is not None:  # the files are written here, with the device free (and ZeroGPU's GPU given back)
                finished = self._finished(*ended, job, hardware)
                self._note_pace(ended[0], request.config, photo.size, time.monotonic() - started)
                yield finished
        finally:
            job.end()

    def paint(self, request: Request) -> Iterator[Progress | Failure]:
        """The GPU function: :func:`webapp.painting.paint` on this studio's backbones (see :mod:`webapp.zerogpu`)."""
        yield from prefetched(painting.paint(self.backbones, request))

    def _run(
        self, events: Iterator[Progress | Failure], job: Job, config: StyleConfig, photo: Image.Image, hardware: str
    ) -> Iterator[Outputs]:
        """The outputs of a job that has the device, event by event, until it ends or Stop is asked; returns the
        final event and the loss curve when the job got that far, for :meth:`_finished`."""
        curve = render.LossCurve()
        time_left = (
            TimeLeft(self.speed, scale_plan(photo.size, config), config, self.pace.factor)
            if self.speed is not None
            else None
        )
        yield outputs(None, None, render.starting_status(hardware), None, None, None)
        last_yield = time.monotonic()
        final = None
        for event in events:
            if isinstance(event, Failure):
                job.fail()
                raise gr.Error(event.message)
            self.meter.iteration()
            job.add(event)
            curve.add(event)
            seconds_left = time_left.seconds_left(event) if time_left is not None else None
            if job.stop_requested and not event.final:
                return None  # Stop shows the rest; nothing may overwrite it
            if event.final:
                final = event  # the last event: the GPU function ends with it
            elif event.image is not None or time.monotonic() - last_yield >= STATUS_INTERVAL:
                status = render.running_status(event, hardware, seconds_left)
                if event.image is None:
                    yield outputs(status=status)
                else:
                    yield outputs(image=event.image, plot=curve.frame(), status=status)
                last_yield = time.monotonic()
        return None if final is None else (final, curve)

    def _note_pace(self, final: Progress, config: StyleConfig, photo_size: tuple[int, int], seconds: float) -> None:
        """Teach :attr:`pace` a job that ran to its end (not one cut short by its time limit) in ``seconds``."""
        if self.speed is not None and final.note is None:
            self.pace.record(self.speed.job_seconds(scale_plan(photo_size, config), config), seconds)

    def stop(self, job: Job) -> tuple[Any, Any, Any, Any]:
        """Stop the session's job, then show where it stopped and offer its latest picture, video and before/after.

        The job's generator ends at its next event and yields nothing more, so that
        these outputs are the last word (Gradio's cancel, on the same click, closes
        it too, and drops it from the queue if it had not started). Changes nothing
        when there was no job or it had already ended done or failed.
        """
        if job.state in (JobState.IDLE, JobState.DONE, JobState.FAILED):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        job.request_stop()
        job.wait_until_ended(STOP_WAIT)
        if job.state is not JobState.STOPPED:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        status = render.stopped_status(job.iteration, job.total, job.elapsed, job.latest is not None)
        if job.latest is None or job.photo is None:
            return status, None, None, None
        stem = render.file_stem(job.name, job.latest.size)
        photo = render.at_size(job.photo, render.display_size(job.photo.size))
        shown = (
            status,
            self.files.save_png(job.latest, stem),
            job.video(self.files, stem),
            (photo, render.at_size(job.latest, photo.size)),
        )
        job.let_go()
        return shown

    def run_example(self, content: str, style: str) -> Outputs:
        """The final outputs for an example pair at the default settings; Gradio caches them after the first click.

        The loss curve is left empty: the page cannot draw a line plot read back from Gradio's example cache.
        """
        run = self.stylize(content, style, None, Job(), **self.default_options())
        image, _, status, download, video, comparison = deque(run, maxlen=1).pop()
        note = f"{status}\n\n*An example, made with the default settings.*"
        return image, None, note, download, video, comparison

    def _request(
        self,
        content: str | None,
        style: str | None,
        second_style: str | None,
        given_regions: dict[str, Any],
        options: dict[str, Any],
    ) -> tuple[Request, Stylizer, Image.Image]:
        """Check the inputs and open the photo at the output size (the "before" picture): the request for the GPU
        function, the backbone it will use and the photo; bad input raises ``gr.Error``."""
        if content is None:
            raise gr.Error("Please add a content image: the photo to repaint.", title="No content image")
        if style is None:
            raise gr.Error("Please add a style image: the painting whose style to copy.", title="No style image")
        styles = (style,) if second_style is None else (style, second_style)
        try:
            config = build_config(options, second_style=second_style is not None, bounds=self.bounds)
            stylizer = self.backbones.get(options["backbone"])
            photo = load_image(content, max_side=config.size, name="content image")
            regions = user_regions(len(styles), **given_regions)
            stylizer.stylize(content, list(styles), config, **regions.engine_arguments()).close()  # checks them all
        except ValueError as error:  # includes ImageError
            raise gr.Error(str(error), title="Cannot stylize") from None
        request = Request(options["backbone"], content, styles, config, regions, render.display_size(photo.size))
        return request, stylizer, photo

    def _finished(self, event: Progress, curve: render.LossCurve, job: Job, hardware: str) -> Outputs:
        """The outputs for the final event: picture, curve, status, PNG, progress video and before/after pair."""
        stem = render.file_stem(job.name, event.image.size)
        return outputs(
            image=event.image,
            plot=curve.frame(),
            status=render.done_status(event, hardware),
            download=self.files.save_png(event.image, stem),
            video=job.video(self.files, stem),
            comparison=(job.photo, event.image),
        )
