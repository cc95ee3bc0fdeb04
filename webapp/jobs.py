"""The work behind the page: the loaded backbones, and the Stylize, Stop and example callbacks.

:class:`Studio` is built once per process. It loads the backbone weights at
start-up and reuses them for every job; the callbacks turn the engine's
:class:`~styletransfer.Progress` events into the page's outputs.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
from PIL import Image

from styletransfer import BackboneWeights, OutOfMemoryError, Progress, StyleConfig, Stylizer, WeightsError, load_image

from . import render
from .fitting import FittedDefaults, fit_defaults, measure_speed
from .options import BACKBONES, Bounds, bounds_for, build_config, defaults_for, options_from_config

#: Picks the default backbone's weights: ``auto`` (the Hub, else the bundled ones), ``hub``, ``bundled`` or a path.
WEIGHTS_ENV = "STYLETRANSFER_WEIGHTS"
#: Between previews, the status line is refreshed at most this often (seconds). Each refresh is also a
#: point where Gradio's cancel takes effect, so this bounds how long it waits on top of the current iteration.
STATUS_INTERVAL = 0.5
#: Stop waits at most this long (seconds) for the engine to finish its current iteration.
STOP_WAIT = 30.0
#: A job waits at most this long (seconds) for a cancelled one to let go of the device.
DEVICE_WAIT = 60.0

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


def backbone_of(weights: BackboneWeights) -> str:
    """The :data:`~webapp.options.BACKBONES` key that ``weights`` are."""
    return "original" if weights.source == "bundled" else "torchvision"


@dataclass
class RunRecord:
    """One session's latest run, shared by its Stylize generator and its Stop button (a ``gr.State``)."""

    started: bool = False
    running: bool = False
    """From the start of the run until its engine generator is closed."""
    stop_requested: bool = False
    finished: bool = False
    name: str | None = None
    """The content image's path, for naming the downloads."""
    iteration: int = 0
    total: int = 0
    elapsed: float = 0.0
    photo: Image.Image | None = None
    """The content image at the output size: the "before" of the before/after view."""
    latest: Image.Image | None = None
    frames: list[Image.Image] = field(default_factory=list)
    """The previews at their own size (see :func:`~webapp.render.video_frame`), for the progress video; thinned out
    evenly whenever there are more than :data:`~webapp.render.VIDEO_PREVIEWS`, and dropped once the video is made."""

    def begin(self, name: str | None, photo: Image.Image) -> None:
        """Forget the previous run and start recording a new one, of ``photo`` (at the output size)."""
        self.started, self.running, self.stop_requested, self.finished, self.name = True, True, False, False, name
        self.iteration, self.total, self.elapsed, self.photo, self.latest, self.frames = 0, 0, 0.0, photo, None, []

    def video(self, files: render.OutputFiles, stem: str) -> str | None:
        """Save the progress video at the photo's size (see :meth:`~webapp.render.OutputFiles.save_video`) and let
        go of its frames."""
        frames, self.frames = self.frames, []
        return files.save_video(frames, self.photo.size, stem) if self.photo is not None else None

    def add(self, event: Progress) -> None:
        """Take in one engine event."""
        self.iteration, self.total, self.elapsed = event.iteration, event.total_iterations, event.elapsed
        if event.image is not None:
            self.latest = event.image
            self.frames.append(render.video_frame(event.image))
            if len(self.frames) > render.VIDEO_PREVIEWS:
                self.frames = render.evenly(self.frames, render.VIDEO_PREVIEWS // 2)
        self.finished = event.final


class WorkMeter:
    """Counts the engine work done in this process: jobs begun and ended, iterations run, most jobs at once.

    An iteration is counted when the engine has produced it, so the count is the
    work actually done, whatever happened to the job's outputs afterwards.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs_begun = 0
        self.jobs_ended = 0
        self.iterations = 0
        self.peak = 0

    def begin(self) -> None:
        """A job's engine generator was made."""
        with self._lock:
            self.jobs_begun += 1
            self.peak = max(self.peak, self.running)

    def iteration(self) -> None:
        """The engine finished one iteration."""
        with self._lock:
            self.iterations += 1

    def end(self) -> None:
        """A job's engine generator was closed (finished, failed or stopped)."""
        with self._lock:
            self.jobs_ended += 1

    @property
    def running(self) -> int:
        """Jobs whose engine generator has not been closed yet."""
        return self.jobs_begun - self.jobs_ended


class Studio:
    """The loaded backbones and the page's callbacks. Build it once per process and share it."""

    def __init__(
        self,
        stylizer: Stylizer,
        *,
        torchvision_source: str = "hub",
        defaults: StyleConfig | None = None,
        bounds: Bounds | None = None,
        files: render.OutputFiles | None = None,
    ) -> None:
        """``stylizer`` is the default backbone, already loaded; ``torchvision_source`` is where the
        other kind of weights comes from if a user picks it (``"hub"`` or a safetensors path).
        ``defaults`` are the settings the page starts with (see :func:`~webapp.options.defaults_for`);
        ``bounds`` the most one job may ask for (see :func:`~webapp.options.bounds_for`)."""
        self.default_backbone = backbone_of(stylizer.weights)
        self.sources = {"original": "bundled", "torchvision": torchvision_source}
        self.defaults = defaults or defaults_for(stylizer.device)
        self.fitted: FittedDefaults | None = None
        """What :meth:`fit_defaults` chose, once it has run."""
        self.bounds = bounds or bounds_for(stylizer.device)
        self.files = files or render.OutputFiles()
        self.meter = WorkMeter()
        self._stylizers = {self.default_backbone: stylizer}
        self._loading = threading.Lock()
        self._device = threading.Lock()
        """Held by the job using the device. Gradio starts the next job as soon as one is cancelled, while the
        cancelled engine may still be finishing its iteration: this keeps the two from overlapping."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ, **settings: Any) -> Studio:
        """Load the default backbone from :data:`WEIGHTS_ENV` (``auto`` when unset); ``settings`` as for the
        constructor."""
        source = environ.get(WEIGHTS_ENV, "auto").strip() or "auto"
        torchvision_source = source if source not in ("auto", "hub", "bundled") else "hub"
        return cls(Stylizer(source), torchvision_source=torchvision_source, **settings)

    @property
    def stylizer(self) -> Stylizer:
        """The default backbone, loaded at start-up."""
        return self._stylizers[self.default_backbone]

    @property
    def notice(self) -> str | None:
        """A message about the weights for the page, such as why the Hub was not used."""
        return self.stylizer.weights.notice

    def default_options(self) -> dict[str, Any]:
        """The option values the page starts with."""
        return options_from_config(self.defaults, self.default_backbone)

    def warm_up(self) -> None:
        """Run two tiny iterations, so that the first user does not pay for one-off kernel set-up."""
        image = Image.linear_gradient("L").convert("RGB").resize((64, 64))
        config = self.defaults.updated(size=64, scales=1, iterations=2, preview_every=0)
        for _ in self.stylizer.stylize(image, image, config):
            pass

    def fit_defaults(self, target: float) -> FittedDefaults:
        """Time this device and make the page's defaults a job of about ``target`` seconds (see
        :mod:`webapp.fitting`); run it after :meth:`warm_up`."""
        self.fitted = fit_defaults(self.defaults, measure_speed(self.stylizer, self.defaults), target)
        self.defaults = self.fitted.config
        return self.fitted

    def backbone(self, name: str) -> Stylizer:
        """The stylizer for backbone ``name``, loading its weights on first use."""
        if name not in BACKBONES:
            raise gr.Error(f"Unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}.")
        with self._loading:
            if name not in self._stylizers:
                default = self.stylizer
                try:
                    self._stylizers[name] = Stylizer(
                        self.sources[name], device=default.device, precision=default.precision
                    )
                except WeightsError as error:
                    raise gr.Error(f"The {BACKBONES[name]} weights could not be loaded: {error}") from None
        return self._stylizers[name]

    def stylize(
        self,
        content: str | None,
        style: str | None,
        second_style: str | None = None,
        record: RunRecord | None = None,
        **options: Any,
    ) -> Iterator[Outputs]:
        """Repaint ``content`` in the style of ``style`` (blended with ``second_style``, if given), live.

        ``options`` are the Advanced panel's values (see :data:`~webapp.options.OPTION_NAMES`).
        Yields the page's outputs: a preview (scaled to the output size) and the loss
        curve every ``preview_every`` iterations, the status line in between, and the
        final picture with its PNG, progress video and before/after pair at the end.
        Closing this generator stops the engine.
        """
        events, stylizer, config, photo = self._start(content, style, second_style, options)
        hardware = render.hardware_line(stylizer)
        if not self._device.acquire(timeout=DEVICE_WAIT):
            events.close()
            raise gr.Error("The previous job is still stopping; please try again in a moment.", title="Busy")
        record = record if record is not None else RunRecord()
        record.begin(content, photo)
        curve = render.LossCurve(config.content_weight, config.style_weight)
        self.meter.begin()
        try:
            yield outputs(None, None, render.starting_status(hardware), None, None, None)
            last_yield = time.monotonic()
            for event in events:
                self.meter.iteration()
                record.add(event)
                curve.add(event)
                if record.stop_requested and not event.final:
                    break  # Stop shows the rest; nothing may overwrite it
                if event.final:
                    yield self._finished(event, record, curve, hardware)
                elif event.image is not None or time.monotonic() - last_yield >= STATUS_INTERVAL:
                    status = render.running_status(event, hardware)
                    if event.image is None:
                        yield outputs(status=status)
                    else:
                        yield outputs(image=render.at_size(event.image, photo.size), plot=curve.frame(), status=status)
                    last_yield = time.monotonic()
        except (ValueError, OutOfMemoryError) as error:  # settings or images the engine cannot use; too big
            raise gr.Error(str(error)) from None
        finally:
            events.close()
            record.running = False
            self.meter.end()
            self._device.release()

    def stop(self, record: RunRecord) -> tuple[Any, Any, Any, Any]:
        """Stop the session's run, then show where it stopped and offer its latest picture, video and before/after.

        The run's generator ends at its next event and yields nothing more, so that
        these outputs are the last word (Gradio's cancel, on the same click, closes
        it too, and drops it from the queue if it had not started). Changes nothing
        when there was no run or the run had already finished.
        """
        if not record.started or record.finished:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        record.stop_requested = True
        deadline = time.monotonic() + STOP_WAIT
        while record.running and time.monotonic() < deadline:
            time.sleep(0.02)
        if record.finished:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        status = render.stopped_status(record.iteration, record.total, record.elapsed, record.latest is not None)
        if record.latest is None or record.photo is None:
            return status, None, None, None
        stem = render.file_stem(record.name, record.latest.size)
        return (
            status,
            self.files.save_png(record.latest, stem),
            record.video(self.files, stem),
            (record.photo, render.at_size(record.latest, record.photo.size)),
        )

    def run_example(self, content: str, style: str) -> Outputs:
        """The final outputs for an example pair at the default settings; Gradio caches them after the first click.

        The loss curve is left empty: the page cannot draw a line plot read back from Gradio's example cache.
        """
        run = self.stylize(content, style, None, RunRecord(), **self.default_options())
        image, _, status, download, video, comparison = deque(run, maxlen=1).pop()
        note = f"{status}\n\n*An example, made with the default settings.*"
        return image, None, note, download, video, comparison

    def _start(
        self, content: str | None, style: str | None, second_style: str | None, options: dict[str, Any]
    ) -> tuple[Iterator[Progress], Stylizer, StyleConfig, Image.Image]:
        """Check the inputs, open the photo at the output size (the "before" picture) and start the engine's
        generator; bad input raises ``gr.Error``."""
        if content is None:
            raise gr.Error("Please add a content image: the photo to repaint.", title="No content image")
        if style is None:
            raise gr.Error("Please add a style image: the painting whose style to copy.", title="No style image")
        styles = [style] if second_style is None else [style, second_style]
        try:
            config = build_config(options, second_style=second_style is not None, bounds=self.bounds)
            stylizer = self.backbone(options["backbone"])
            photo = load_image(content, max_side=config.size, name="content image")
            return stylizer.stylize(content, styles, config), stylizer, config, photo
        except ValueError as error:  # includes ImageError
            raise gr.Error(str(error), title="Cannot stylize") from None

    def _finished(self, event: Progress, record: RunRecord, curve: render.LossCurve, hardware: str) -> Outputs:
        """The outputs for the final event: picture, curve, status, PNG, progress video and before/after pair."""
        stem = render.file_stem(record.name, event.image.size)
        return outputs(
            image=event.image,
            plot=curve.frame(),
            status=render.done_status(event, hardware),
            download=self.files.save_png(event.image, stem),
            video=record.video(self.files, stem),
            comparison=(record.photo, event.image),
        )
