"""One configuration (a content/style pair at a size): the reference once, then our engine several times."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from styletransfer import StyleConfig, Stylizer
from styletransfer.features import VGG19Features

from .judge import Distances, Judge, Point
from .measure import PeakMemory, evaluation_tflop
from .ours import OursRun, output_size, run_ours
from .reference import ReferenceRun, run_reference

#: How many judged points the reference's curve gets.
REFERENCE_CURVE_POINTS = 30


@dataclass(frozen=True)
class Pair:
    """A named content/style pair."""

    name: str
    content: Image.Image
    style: Image.Image


@dataclass
class Comparison:
    """The reference and our runs on one pair at one size."""

    pair: str
    size: tuple[int, int]
    reference: ReferenceRun
    reference_curve: list[Point]
    reference_peak_mib: float | None
    ours: list[OursRun]
    load_average: tuple[float, float]
    """The 1-minute load average before and after: other processes make every time longer."""

    @property
    def target(self) -> Distances:
        """The judge's distances of the reference's final picture: the quality to reach."""
        return self.reference_curve[-1].distances

    @property
    def time_to_quality(self) -> float | None:
        """The median over our runs of the time to the target; ``None`` unless most runs reached it."""
        times = [run.time_to_quality if run.time_to_quality is not None else float("inf") for run in self.ours]
        median = statistics.median(times)
        return None if median == float("inf") else median

    @property
    def ratio(self) -> float | None:
        """Reference time / our median time to the same quality."""
        return None if self.time_to_quality is None else self.reference.seconds / self.time_to_quality

    @property
    def reference_tflops(self) -> float:
        """The reference's achieved TFLOP/s over its evaluations."""
        return self.reference.evaluations * evaluation_tflop(self.size) / self.reference.seconds

    def ours_median(self, measure: Callable[[OursRun], float | None]) -> float | None:
        """The median over our runs of ``measure`` (``None`` where some run has no value)."""
        values = [measure(run) for run in self.ours]
        return None if None in values else statistics.median(values)


def compare(
    pair: Pair,
    config: StyleConfig,
    stylizer: Stylizer,
    judge_network: VGG19Features,
    *,
    evaluations: int,
    runs: int,
) -> Comparison:
    """Run the reference once and our engine ``runs`` times at ``config.size``, all judged alike."""
    load_before = os.getloadavg()[0]
    size = output_size(pair.content, config)
    judge = Judge(judge_network, pair.content, pair.style, size)
    with PeakMemory(stylizer.device) as memory:
        reference = run_reference(
            stylizer.weights,
            pair.content,
            pair.style,
            size,
            stylizer.device,
            evaluations,
            snapshot_every=max(1, evaluations // REFERENCE_CURVE_POINTS),
        )
    reference_curve = judge.timeline(reference.snapshots)
    target = reference_curve[-1].distances
    ours = [run_ours(stylizer, pair.content, pair.style, config, judge, target) for _ in range(runs)]
    load = (load_before, os.getloadavg()[0])
    return Comparison(pair.name, size, reference, reference_curve, memory.mib, ours, load)
