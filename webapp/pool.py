"""The app's jobs on a pool of Ray workers: one Gradio front end, its fair queue, and many devices.

With :data:`~styletransfer.pool.RAY_ENV` set (or ``app.py --ray``), the app starts or joins a Ray cluster and keeps
a :class:`~styletransfer.pool.WorkerPool` whose workers each hold the loaded backbones on their own device; the
:class:`~webapp.jobs.Studio` then runs as many jobs at once as there are workers. A job crosses to its worker
through the same picklable seam as on ZeroGPU (:mod:`webapp.zerogpu`): one request in, the engine's events and at
most one :class:`~webapp.zerogpu.Failure` out, streamed back as they come by :mod:`webapp.painting`'s functions.
Files on the front end's disk travel as their bytes, so that a worker on another machine can read them. A worker
lost mid-job ends that job with a :class:`~webapp.zerogpu.Failure` that says so, and is replaced.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import torch

from styletransfer import Progress, StyleConfig, Stylizer
from styletransfer.pool import PoolSetting, WorkerLost, WorkerPool
from styletransfer.video import VideoProgress

from . import painting, render
from .backbones import WEIGHTS_ENV, Backbones
from .fitting import Speed, measure_speed
from .masks import UserRegions
from .video_jobs import VideoRequest
from .zerogpu import Failure, Request


def load_backbones(weights: str, device: str) -> Backbones:
    """The backbones a worker holds: the default one from ``weights`` (as :data:`~webapp.backbones.WEIGHTS_ENV`
    takes it) on ``device``."""
    return Backbones.from_environment({WEIGHTS_ENV: weights}, device=device)


def sent(source: Any) -> Any:
    """A file path as the file's bytes, for a worker that may not see this machine's disk; anything else as it is
    (a picture pickles)."""
    return Path(source).read_bytes() if isinstance(source, str) else source


def portable(request: Request) -> Request:
    """``request`` with its photo, styles and mask files carried as bytes."""
    regions = UserRegions(tuple(sent(mask) for mask in request.regions.masks), sent(request.regions.keep))
    return replace(request, content=sent(request.content), styles=tuple(map(sent, request.styles)), regions=regions)


def paint_sent_video(backbones: Backbones, request: VideoRequest, clip: bytes) -> Iterator[VideoProgress | Failure]:
    """:func:`webapp.painting.paint_video` on a worker, the clip sent as its bytes (``clip``), written to a file of
    the worker's own for the job. The style images travel as bytes in ``request``."""
    suffix = Path(request.video.path).suffix
    with tempfile.TemporaryDirectory(prefix="styletransfer-clip-") as folder:
        path = os.path.join(folder, f"clip{suffix}")
        Path(path).write_bytes(clip)
        yield from painting.paint_video(backbones, replace(request, video=replace(request.video, path=path)))


def _measure(backbones: Backbones, config: StyleConfig) -> Iterator[Speed]:
    yield measure_speed(backbones.stylizer, config)


def _describe(backbones: Backbones) -> Iterator[str]:
    yield backbones.stylizer.description


class AppPool:
    """The workers of a Ray pool, as the :class:`~webapp.jobs.Studio` uses them."""

    def __init__(self, pool: WorkerPool[Backbones]) -> None:
        self.pool = pool
        self.description = pool.call(_describe)
        """One worker's device, precision and weights."""

    @classmethod
    def start(cls, setting: PoolSetting, environ: Mapping[str, str] = os.environ) -> AppPool:
        """Start or join the cluster of ``setting``; each worker loads the weights that
        :data:`~webapp.backbones.WEIGHTS_ENV` names here (``auto`` when unset)."""
        weights = environ.get(WEIGHTS_ENV, "auto").strip() or "auto"
        return cls(WorkerPool(setting, partial(load_backbones, weights)))

    @property
    def size(self) -> int:
        """The number of workers: jobs that run at once."""
        return self.pool.size

    @property
    def device(self) -> torch.device:
        """The workers' kind of device."""
        return self.pool.device

    def hardware_line(self, stylizer: Stylizer) -> str:
        """Where a job runs, for the status box: the pool, a worker's device and ``stylizer``'s weights' source."""
        source = render.SOURCE_LABELS.get(stylizer.weights.source, stylizer.weights.source)
        layout = self.pool.layout
        share = "a GPU" if layout.gpus else f"{layout.cores} core{'s' * (layout.cores > 1)}"
        return f"Ray pool of {self.size} workers ({share} each): {self.description} ({source})"

    def paint(self, request: Request) -> Iterator[Progress | Failure]:
        """:func:`webapp.painting.paint` on the next free worker; a lost worker ends the job with a Failure."""
        return self._failing_on_loss(painting.paint, portable(request))

    def paint_video(self, request: VideoRequest) -> Iterator[VideoProgress | Failure]:
        """:func:`webapp.painting.paint_video` on the next free worker, the clip and style sent as bytes."""
        moved = replace(request, styles=tuple(map(sent, request.styles)))
        return self._failing_on_loss(paint_sent_video, moved, Path(request.video.path).read_bytes())

    def measure_speed(self, config: StyleConfig) -> Speed:
        """:func:`webapp.fitting.measure_speed` on a worker: the speed the page's defaults are fitted to."""
        return self.pool.call(_measure, config)

    def _failing_on_loss(self, task: Any, *args: Any) -> Iterator[Any]:
        try:
            yield from self.pool.stream(task, *args)
        except WorkerLost as lost:
            yield Failure(str(lost))

    def close(self) -> None:
        """End the workers (and the cluster, if this pool started it)."""
        self.pool.close()
