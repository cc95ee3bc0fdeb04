"""Our engine, run as the app runs it, with its previews judged after the run.

The engine times itself (:attr:`Progress.elapsed`, from the start of the job,
including whatever the consumer of its events does in between). So that neither
the benchmark's own work nor the previews it asks for count, the time of every
event is corrected by subtracting (1) the time this loop spent between events
and (2) the time the engine spent turning its image into each preview so far,
measured here at each preview size. Pictures are judged only after the run,
which keeps the judge out of both the timing and the peak memory.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch
from PIL import Image

from styletransfer import Progress, StyleConfig, Stylizer, images
from styletransfer.engine import scale_sizes

from .judge import Judge, Point, Snapshot, Target
from .measure import PeakMemory, clock, evaluation_tflop


@dataclass
class OursRun:
    """One run of our engine, judged against the references' targets."""

    image: Image.Image
    seconds: float
    """The whole job, overheads of the benchmark and of the previews excluded."""
    reached: dict[str, Point | None]
    """For each target, by name, the first picture that met it; ``None`` if none did."""
    first_preview: float | None
    """When the first preview (at any scale) reached the consumer, as a user waits for it."""
    iterations: int
    tflop: float
    """VGG19 forward-and-backward work done, counted at each iteration's image size."""
    curve: list[Point]
    peak_mib: float | None

    def time_to(self, target: str) -> float | None:
        """Seconds to the first picture that met the target named ``target``, if any."""
        point = self.reached[target]
        return None if point is None else point.seconds

    def iteration_at(self, target: str) -> int | None:
        """The iteration (over all scales) of the first picture that met the target named ``target``, if any."""
        point = self.reached[target]
        return None if point is None else point.iteration

    @property
    def final(self) -> Point:
        """The judged final picture."""
        return self.curve[-1]


@dataclass
class _Recording:
    previews: list[Snapshot]
    """Corrected times and pictures of every preview at the output size, the final picture last."""
    seconds: float
    first_preview: float | None
    iterations: int
    tflop: float


def output_size(content: Image.Image, config: StyleConfig) -> tuple[int, int]:
    """The (width, height) of the picture our engine makes from ``content`` with ``config``."""
    loaded = images.load_image(content, max_side=config.size)
    return scale_sizes(loaded.size, config)[-1]


@lru_cache(maxsize=32)
def preview_seconds(size: tuple[int, int], device: torch.device, repeats: int = 5) -> float:
    """The median time to turn an image tensor of ``size`` into a preview, as the engine does."""
    width, height = size
    tensor = torch.rand(1, 3, height, width, device=device)
    times = []
    for _ in range(repeats + 1):
        begin = clock(device)
        images.to_image(tensor.detach().clamp(0, 1))
        times.append(clock(device) - begin)
    return statistics.median(times[1:])  # the first one warms up


def _record(events: Iterable[Progress], size: tuple[int, int], device: torch.device) -> _Recording:
    """Consume a stylization's events, keeping the previews at ``size`` with corrected times."""
    previews: list[Snapshot] = []
    first_preview = None
    consumer = preview_overhead = tflop = 0.0
    for event in events:
        received = clock(device)
        tflop += evaluation_tflop(event.size)
        if event.image is not None:
            preview_overhead += preview_seconds(event.size, device)
            if first_preview is None:
                first_preview = event.elapsed - consumer
            if event.size == size:
                previews.append(Snapshot(event.elapsed - consumer - preview_overhead, event.iteration, event.image))
        if event.final:
            if event.image.size != size:
                raise RuntimeError(f"The engine made a {event.image.size} picture; the benchmark expected {size}.")
            return _Recording(previews, previews[-1].seconds, first_preview, event.iteration, tflop)
        consumer += clock(device) - received
    raise RuntimeError("The stylization ended without a final event.")


def run_ours(
    stylizer: Stylizer,
    content: Image.Image,
    style: Image.Image,
    config: StyleConfig,
    judge: Judge,
    targets: Sequence[Target],
) -> OursRun:
    """Stylize with our engine, then judge its previews and find when each of ``targets`` was first met."""
    with PeakMemory(stylizer.device) as memory:
        recording = _record(stylizer.stylize(content, style, config), judge.size, stylizer.device)
    curve = judge.timeline(recording.previews)
    return OursRun(
        image=recording.previews[-1].image,
        seconds=recording.seconds,
        reached={target.name: _first_meeting(curve, target) for target in targets},
        first_preview=recording.first_preview,
        iterations=recording.iterations,
        tflop=recording.tflop,
        curve=curve,
        peak_mib=memory.mib,
    )


def _first_meeting(curve: Iterable[Point], target: Target) -> Point | None:
    """The first point of ``curve`` that meets ``target``; ``None`` if none does."""
    return next((point for point in curve if target.met_by(point.distances)), None)
