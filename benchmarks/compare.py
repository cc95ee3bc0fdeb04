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
from .objective import ObjectiveMeter
from .ours import OursRun, output_size, run_ours
from .reference import REFERENCES, SAME_OBJECTIVE, ReferenceRun, run_reference, run_same_objective

#: How many judged points each reference's curve gets.
REFERENCE_CURVE_POINTS = 30
#: The reference whose texture and content set the quality the levers are measured against (``benchmarks.balance``).
BALANCED = "balanced"
#: The reference of the headline figure: the seed's design minimising our own default objective, so that the
#: headline measures engineering, not a choice of loss weights (see :func:`~benchmarks.reference.run_same_objective`).
HEADLINE = SAME_OBJECTIVE
#: Every reference, in the order they run.
REFERENCE_NAMES = (*REFERENCES, SAME_OBJECTIVE)
#: The judge's style measure that, with the content distance, makes each reference's quality criterion (for the
#: information tables; the headline's criterion is the objective): the tutorial's is the paper's; the others' leave
#: out the deep layers, which reward copying the painting's objects (see :mod:`benchmarks.judge`).
STYLE_MEASURES = {"tutorial": "style", BALANCED: "texture", SAME_OBJECTIVE: "texture"}


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
    """By name, in the order of :data:`REFERENCE_NAMES` (those that were run)."""
    ours: list[OursRun]
    load_average: tuple[float, float]
    """The 1-minute load average before and after: other processes make every time longer."""
    ours_objective: list[float]
    """Our default objective at the output size, in fp32, of each of our runs' final picture."""
    reference_objective: list[tuple[float, int, float]]
    """(seconds, evaluation, objective) of each of the same-objective reference's snapshots; empty when it did not
    run."""

    @property
    def ours_objective_median(self) -> float:
        """The median over our runs of the final picture's objective."""
        return statistics.median(self.ours_objective)

    @property
    def headline_seconds(self) -> float | None:
        """When the same-objective reference's first snapshot at or below our final objective was taken; ``None``
        if none was."""
        ours = self.ours_objective_median
        return next((seconds for seconds, _, value in self.reference_objective if value <= ours), None)

    @property
    def headline_ratio(self) -> tuple[float, bool]:
        """The headline: the same-objective reference's time to our final objective over our whole job (median),
        and ``True``; or, where it never got there, its whole run over our whole job and ``False`` (read "> N×")."""
        reached = self.headline_seconds
        seconds = self.references[HEADLINE].run.seconds if reached is None else reached
        return seconds / self.ours_seconds, reached is not None

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
    *,
    config: StyleConfig | None = None,
    fp32: Stylizer | None = None,
) -> JudgedReference:
    """Run the reference named ``name`` once, with the stylizer's weights and device, at the judge's size.

    Its curve gets about ``curve_points`` judged pictures besides the first and the final one. The same-objective
    reference minimises ``config``'s objective with the fp32 stylizer ``fp32``; the others ignore both.
    """
    snapshot_every = max(1, evaluations // curve_points)
    with PeakMemory(stylizer.device) as memory:
        if name == SAME_OBJECTIVE:
            run = run_same_objective(fp32, pair.content, pair.style, config, evaluations, snapshot_every)
        else:
            weights = REFERENCES[name]
            run = run_reference(
                stylizer.weights,
                pair.content,
                pair.style,
                judge.size,
                stylizer.device,
                weights,
                evaluations,
                snapshot_every,
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
    references: tuple[str, ...] = REFERENCE_NAMES,
    fp32: Stylizer | None = None,
) -> Comparison:
    """Run each of ``references`` once and our engine ``runs`` times at ``config.size``, all judged alike, and score
    every final picture (and the same-objective reference's snapshots) with our objective in fp32 (``fp32``: a
    stylizer with the same weights and device in fp32; made here if not given)."""
    load_before = os.getloadavg()[0]
    fp32 = fp32 or Stylizer(stylizer.weights, device=stylizer.device, precision="fp32")
    size = output_size(pair.content, config)
    judge = Judge(judge_network, pair.content, pair.style, size)
    judged = {
        name: judged_reference(name, pair, stylizer, judge, evaluations, config=config, fp32=fp32)
        for name in REFERENCE_NAMES
        if name in references
    }
    targets = [reference.target for reference in judged.values()]
    ours = [run_ours(stylizer, pair.content, pair.style, config, judge, targets) for _ in range(runs)]
    load = (load_before, os.getloadavg()[0])
    meter = ObjectiveMeter(fp32, pair.content, pair.style, config)
    same = judged.get(SAME_OBJECTIVE)
    reference_objective = [] if same is None else [(s.seconds, s.iteration, meter(s.image)) for s in same.run.snapshots]
    return Comparison(pair.name, size, judged, ours, load, [meter(run.image) for run in ours], reference_objective)
