"""Default settings that fit the machine: measure the device once, then choose the size of the default job.

On two AVX2-only CPU cores (fp32) an iteration at 384 px costs about three
times what it costs with AVX512-BF16/AMX (bf16), so one fixed default cannot be
"about a minute" on both. At start-up :func:`measure_speed` times a few
iterations at two sizes and fits seconds per iteration as a fixed cost plus a
cost per megapixel; :func:`fit_defaults` then picks the largest output size
whose whole default job (every scale's iterations) is predicted to fit the
target time, less a margin for the machine's swings (:data:`HEADROOM`), but never less than
:data:`SMALLEST_GOOD_SIZE`. Each served job's real time then teaches :class:`ServedPace` how the served app runs
against that prediction, and every later job's time left starts from the corrected figure.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate, pairwise
from statistics import median

from PIL import Image

from styletransfer import Plan, Progress, StyleConfig, Stylizer, scale_plan
from styletransfer.output_scale import is_shallow, scale_config

#: The environment variable that sets how long the default job should take, in seconds.
TARGET_SECONDS_ENV = "STYLETRANSFER_TARGET_SECONDS"
TARGET_SECONDS = 60.0
#: Below this long side the pictures lose too much: brush strokes are a few pixels wide and faces lose their
#: features (seen on the quality suite's contact sheets at 128 and 256 px).
SMALLEST_GOOD_SIZE = 256
#: The sizes the default may take, largest first; the largest is the engine's own default. Steps of 32 px: with steps
#: of 64 a job's time jumps by a third from one size to the next (AVX512-BF16 without AMX, the square photo: 448 px
#: 66 s, 384 px about 48 s), so the chosen size left up to a quarter of the minute unused.
CANDIDATE_SIZES = (512, 480, 448, 416, 384, 352, 320, 288, 256)
#: The share of the target the predicted job may take. On one machine (AVX512-BF16 without AMX, quiet) the fit's
#: promise was 0.94 of the served job in one run and 0.81-0.87 in the next, half an hour later (the same 4:3 job took
#: 51 s at 448 px, then 52 s at 416 px); at 0.9, the square job then took 62.6 s against its minute.
HEADROOM = 0.8
#: The photo's aspect ratio the fit plans for: square, the most pixels a long side can hold, so that no photo's
#: default job runs past the target (a 4:3 photo's takes about three quarters of the time).
FIT_ASPECT = (1, 1)
#: How much slower the engine runs inside the served app than alone: the web server's threads share the cores.
#: Measured on two AVX2-only cores: per-iteration times 1.05×, 1.15× and 1.11× the bare engine's at the three
#: scales of the 256 px default job, through the API.
APP_SLOWDOWN = 1.1
#: The two sizes the device is timed at, and the iterations timed at each (after one untimed). The larger is near
#: the output scales the fit chooses between: a cost per megapixel timed on small images alone underestimated a
#: 512×512 iteration by a fifth (caches hold less of a larger picture's activations).
PROBE_SIZES = ((128, 96), (384, 288))
PROBE_ITERATIONS = 4
#: How many times the probes are timed, one size after the other; each size counts its quickest round. A busy
#: moment at start-up once made the whole probe 1.7× slow (AMX: "about 39 s" for the square job, then 23 s in the
#: next start minutes later, the jobs themselves alike).
PROBE_ROUNDS = 2


@dataclass(frozen=True)
class Speed:
    """How long one optimiser iteration takes on this device: a fixed cost plus a cost per megapixel, the latter
    smaller at a scale whose network stops early (the output scale's shallower network, see
    :mod:`styletransfer.output_scale`)."""

    fixed_seconds: float
    seconds_per_megapixel: float
    """With the whole network."""
    shallow_share: float = 1.0
    """The cost per megapixel with the output scale's shallower network, as a share of the whole network's."""

    def iteration_seconds(self, size: tuple[int, int], shallow: bool = False) -> float:
        """The predicted seconds of one iteration at ``size`` (width, height), with the shallower network or not."""
        width, height = size
        per_megapixel = self.seconds_per_megapixel * (self.shallow_share if shallow else 1.0)
        return self.fixed_seconds + per_megapixel * width * height / 1e6

    def iteration_costs(self, plan: Plan, config: StyleConfig) -> list[float]:
        """The predicted seconds of each iteration of a job with ``config`` and ``plan``, in order."""
        return [
            self.iteration_seconds(size, shallow=is_shallow(config, scale, len(plan)))
            for scale, (size, steps) in enumerate(plan)
            for _ in range(steps)
        ]

    def job_seconds(self, plan: Plan, config: StyleConfig) -> float:
        """The predicted seconds of a whole job."""
        return sum(self.iteration_costs(plan, config))


def measure_speed(stylizer: Stylizer, config: StyleConfig) -> Speed:
    """Time a few iterations of ``config``'s kind at the two :data:`PROBE_SIZES`, and of its output scale's network
    at the larger, and fit a :class:`Speed`: the speed in the served app, :data:`APP_SLOWDOWN` times slower than the
    bare engine timed here. Each probe counts its median iteration: on a shared virtual machine one iteration takes
    from half to one and a half times the median even when nothing else runs (measured on two AMX cores: 521 to
    1504 ms at 512×512, median 1046), so the quickest predicted whole jobs 30 % short, while one busy moment moves
    the median little. The probes run :data:`PROBE_ROUNDS` times and each size keeps its quickest round's median,
    so that a start-up that was busy throughout one round does not set the size for the app's whole life."""
    rounds = [[_seconds_per_iteration(stylizer, config, size) for size in PROBE_SIZES] for _ in range(PROBE_ROUNDS)]
    seconds = [APP_SLOWDOWN * min(timed) for timed in zip(*rounds, strict=True)]
    (small, large), (t_small, t_large) = [w * h / 1e6 for w, h in PROBE_SIZES], seconds
    per_megapixel = max((t_large - t_small) / (large - small), 1e-9)
    fixed = max(t_small - per_megapixel * small, 0.0)
    output_scale = scale_config(config, 1, 2)
    if output_scale.network_layers == config.network_layers:
        return Speed(fixed, per_megapixel)
    t_shallow = APP_SLOWDOWN * _seconds_per_iteration(stylizer, output_scale, PROBE_SIZES[1])
    share = min(max((t_shallow - fixed) / large / per_megapixel, 0.05), 1.0)
    return Speed(fixed, per_megapixel, share)


def _seconds_per_iteration(stylizer: Stylizer, config: StyleConfig, size: tuple[int, int]) -> float:
    """The median of :data:`PROBE_ITERATIONS` timed iterations at ``size`` with ``config``'s network, at one
    scale."""
    image = Image.linear_gradient("L").convert("RGB").resize(size)
    probe = config.updated(size=max(size), scales=1, iterations=PROBE_ITERATIONS + 1, preview_every=0)
    times = [event.elapsed for event in stylizer.stylize(image, image, probe)]
    return median(later - earlier for earlier, later in pairwise(times))


class ServedPace:
    """How the served app's jobs really ran against the :class:`Speed` measured at start-up: the median of the last
    :data:`KEPT` finished jobs' whole time (from taking the device to the files written) over their predicted time.

    The start-up fit times the bare engine at two sizes and allows :data:`APP_SLOWDOWN` for the web server. A served
    job differs from that prediction by more than the fit can see: the server's own work on the same cores (the
    square 512 px job on two AMX cores took 1.14–1.19× the bare engine's time, interleaved), sizes off the line
    through the probes (13 % above it at 512×512 there), and whatever the machine was doing while the fit timed it.
    Learnt from the jobs themselves, the time left each job starts with is right from the second job on."""

    KEPT = 5
    #: A ratio outside this range is a job that waited on something else (a paused machine), not a pace.
    PLAUSIBLE = (0.25, 4.0)

    def __init__(self) -> None:
        self._ratios: deque[float] = deque(maxlen=self.KEPT)
        self._lock = threading.Lock()

    def record(self, predicted_seconds: float, seconds: float) -> None:
        """Note a finished job that was predicted to take ``predicted_seconds`` and took ``seconds``."""
        if predicted_seconds <= 0:
            return
        ratio = seconds / predicted_seconds
        if self.PLAUSIBLE[0] <= ratio <= self.PLAUSIBLE[1]:
            with self._lock:
                self._ratios.append(ratio)

    @property
    def factor(self) -> float:
        """What the next job's prediction is multiplied by: 1 until a job has finished."""
        with self._lock:
            return median(self._ratios) if self._ratios else 1.0


def target_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """The default job's target time: :data:`TARGET_SECONDS_ENV` when it holds a positive number, else 60."""
    text = environ.get(TARGET_SECONDS_ENV, "").strip()
    try:
        value = float(text)
    except ValueError:
        return TARGET_SECONDS
    return value if value > 0 else TARGET_SECONDS


@dataclass(frozen=True)
class FittedDefaults:
    """The default settings chosen for this device, and what the job is predicted to take."""

    config: StyleConfig
    predicted_seconds: float
    target_seconds: float

    @property
    def fits(self) -> bool:
        """Whether the default job is predicted to fit the target (it may not, at the smallest good size)."""
        return self.predicted_seconds <= self.target_seconds


def fit_defaults(base: StyleConfig, speed: Speed, target: float) -> FittedDefaults:
    """``base`` at the largest of :data:`CANDIDATE_SIZES` whose job on a square photo (:data:`FIT_ASPECT`) is
    predicted within :data:`HEADROOM` of ``target`` seconds, or at :data:`SMALLEST_GOOD_SIZE` when none is."""
    photo = (FIT_ASPECT[0] * 1000, FIT_ASPECT[1] * 1000)
    for size in CANDIDATE_SIZES:
        config = base.updated(size=size)
        fitted = FittedDefaults(config, speed.job_seconds(scale_plan(photo, config), config), target)
        if fitted.predicted_seconds <= HEADROOM * target:
            return fitted
    return fitted  # the smallest good size, even though it does not fit


class TimeLeft:
    """A job's time left, from the first seconds: the device's :class:`Speed` predicts what each iteration of the
    job's plan costs, and the pace measured since the first iteration corrects the prediction as the job goes.

    The engine's own estimate (:attr:`~styletransfer.Progress.seconds_left`) spreads the time so far evenly over
    the job's pixels, which misjudges the coarse scales, where each pixel costs more.
    """

    #: The measured pace counts fully once this many iterations have passed since the first; before, in part.
    SETTLED_ITERATIONS = 10

    def __init__(self, speed: Speed, plan: Plan, config: StyleConfig, pace: float = 1.0) -> None:
        """``pace`` multiplies every predicted cost: the served jobs' :attr:`ServedPace.factor`."""
        self._predicted_by = [pace * seconds for seconds in accumulate(speed.iteration_costs(plan, config))]
        self._first: Progress | None = None

    def seconds_left(self, event: Progress) -> float:
        """The seconds the job still needs after ``event``."""
        self._first = self._first or event
        index = min(event.iteration, len(self._predicted_by)) - 1
        predicted_left = self._predicted_by[-1] - self._predicted_by[index]
        since_first = event.iteration - self._first.iteration
        if since_first == 0:
            return predicted_left
        first_index = self._first.iteration - 1
        measured_pace = (event.elapsed - self._first.elapsed) / (
            self._predicted_by[index] - self._predicted_by[first_index]
        )
        trust = min(since_first / self.SETTLED_ITERATIONS, 1.0)
        return predicted_left * (trust * measured_pace + (1.0 - trust))
