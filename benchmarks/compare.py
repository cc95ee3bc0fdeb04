"""One configuration (a content/style pair at a size): each reference once, then our engine several times."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from styletransfer import StyleConfig, Stylizer
from styletransfer.features import VGG19Features

from .judge import Distances, Judge, Point, Target
from .measure import PeakMemory
from .ours import OursRun, output_size, run_ours
from .reference import REFERENCES, ReferenceRun, run_reference

#: How many judged points each reference's curve gets.
REFERENCE_CURVE_POINTS = 30
#: The judge's style measure that, with the content distance, makes each reference's quality criterion:
#: the tutorial's is the paper's; the balanced one's leaves out the deep layers, which reward copying the
#: painting's objects (see :mod:`benchmarks.judge`).
STYLE_MEASURES = {"tutorial": "style", "balanced": "texture"}
#: The reference of the headline figure.
HEADLINE = "balanced"


def reference_target(name: str, final: Distances) -> Target:
    """The quality criterion set by the final picture of the reference named ``name``."""
    return Target.of(name, final, STYLE_MEASURES[name])


@dataclass(frozen=True)
class Pair:
    """A named content/style pair."""

    name: str
    content: Image.Image
    style: Image.Image


@dataclass
class JudgedReference:
    """One reference's run on a configuration, with its judged curve."""

    name: str
    run: ReferenceRun
    curve: list[Point]
    peak_mib: float | None

    @property
    def final(self) -> Distances:
        """The judge's verdict on the reference's final picture."""
        return self.curve[-1].distances

    @property
    def target(self) -> Target:
        """The quality to reach: the reference's final distances, on its criterion."""
        return reference_target(self.name, self.final)


@dataclass
class Comparison:
    """The references and our runs on one pair at one size."""

    pair: str
    size: tuple[int, int]
    references: dict[str, JudgedReference]
    """By name, in the order of :data:`benchmarks.reference.REFERENCES`."""
    ours: list[OursRun]
    load_average: tuple[float, float]
    """The 1-minute load average before and after: other processes make every time longer."""

    def time_to_quality(self, reference: str) -> float | None:
        """The median over our runs of the time to a reference's target; ``None`` unless most runs reached it."""
        times = [run.time_to(reference) for run in self.ours]
        median = statistics.median(float("inf") if time is None else time for time in times)
        return None if median == float("inf") else median

    def ratio(self, reference: str) -> float | None:
        """A reference's whole run / our median time to its quality."""
        reached = self.time_to_quality(reference)
        return None if reached is None else self.references[reference].run.seconds / reached

    @property
    def ours_seconds(self) -> float:
        """The median over our runs of the whole job's seconds."""
        return statistics.median(run.seconds for run in self.ours)

    def whole_job_ratio(self, reference: str) -> float:
        """A reference's whole run / our median whole job: what users wait for, compared."""
        return self.references[reference].run.seconds / self.ours_seconds

    def ours_median(self, measure: Callable[[OursRun], float | None]) -> float | None:
        """The median over our runs of ``measure`` (``None`` where some run has no value)."""
        values = [measure(run) for run in self.ours]
        return None if None in values else statistics.median(values)


def judged_reference(
    name: str,
    pair: Pair,
    stylizer: Stylizer,
    judge: Judge,
    evaluations: int,
    curve_points: int = REFERENCE_CURVE_POINTS,
) -> JudgedReference:
    """Run the reference named ``name`` once, with the stylizer's weights and device, at the judge's size.

    Its curve gets about ``curve_points`` judged pictures besides the first and the final one.
    """
    with PeakMemory(stylizer.device) as memory:
        run = run_reference(
            stylizer.weights,
            pair.content,
            pair.style,
            judge.size,
            stylizer.device,
            REFERENCES[name],
            evaluations,
            snapshot_every=max(1, evaluations // curve_points),
        )
    return JudgedReference(name, run, judge.timeline(run.snapshots), memory.mib)


def compare(
    pair: Pair,
    config: StyleConfig,
    stylizer: Stylizer,
    judge_network: VGG19Features,
    *,
    evaluations: int,
    runs: int,
) -> Comparison:
    """Run each reference once and our engine ``runs`` times at ``config.size``, all judged alike."""
    load_before = os.getloadavg()[0]
    size = output_size(pair.content, config)
    judge = Judge(judge_network, pair.content, pair.style, size)
    references = {name: judged_reference(name, pair, stylizer, judge, evaluations) for name in REFERENCES}
    targets = [reference.target for reference in references.values()]
    ours = [run_ours(stylizer, pair.content, pair.style, config, judge, targets) for _ in range(runs)]
    load = (load_before, os.getloadavg()[0])
    return Comparison(pair.name, size, references, ours, load)
