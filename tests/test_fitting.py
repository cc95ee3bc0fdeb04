"""Default settings fitted to the device: the size chosen for a target time, and how the page says so."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from styletransfer import StyleConfig
from styletransfer.engine import scale_plan
from webapp import layout
from webapp.fitting import (
    APP_SLOWDOWN,
    CANDIDATE_SIZES,
    HEADROOM,
    PROBE_SIZES,
    SMALLEST_GOOD_SIZE,
    ServedPace,
    Speed,
    TimeLeft,
    fit_defaults,
    measure_speed,
    target_seconds,
)

BASE = StyleConfig(size=384, preview_every=5)


def test_a_job_costs_each_scales_iterations_at_that_scales_size():
    speed = Speed(fixed_seconds=0.1, seconds_per_megapixel=10.0, shallow_share=0.5)
    plan = [((100, 100), 2), ((200, 100), 3)]
    assert speed.job_seconds(plan, BASE.updated(output_depth="full")) == pytest.approx(2 * 0.2 + 3 * 0.3)
    # The output scale's shallower network costs half as much per megapixel there.
    assert speed.job_seconds(plan, BASE.updated(output_depth="relu3_1")) == pytest.approx(2 * 0.2 + 3 * (0.1 + 0.1))


@pytest.mark.parametrize(
    ("seconds_per_megapixel", "size"),
    [(1.0, 512), (3.5, 480), (4.5, 416), (6.0, 352), (200.0, SMALLEST_GOOD_SIZE)],
)
def test_the_largest_size_predicted_within_the_headroom_of_the_target_is_chosen(seconds_per_megapixel, size):
    speed = Speed(fixed_seconds=0.0, seconds_per_megapixel=seconds_per_megapixel)
    fitted = fit_defaults(BASE, speed, target=60)
    assert fitted.config.size == size
    assert fitted.config.updated(size=BASE.size) == BASE  # nothing but the size changes
    for other in [s for s in CANDIDATE_SIZES if s > size]:  # every larger size was predicted past the headroom
        bigger_job = BASE.updated(size=other)
        assert speed.job_seconds(scale_plan((3000, 3000), bigger_job), bigger_job) > HEADROOM * 60  # a square photo's
    assert fitted.fits == (fitted.predicted_seconds <= 60)


def test_a_job_predicted_just_under_the_target_is_not_chosen():
    # 512 px is predicted at 95 % of the minute: inside the target, outside the headroom a machine's swings need.
    job = BASE.updated(size=512)
    work = sum(w * h * steps for (w, h), steps in scale_plan((1000, 1000), job)) / 1e6
    fitted = fit_defaults(BASE, Speed(fixed_seconds=0.0, seconds_per_megapixel=0.95 * 60 / work), target=60)
    # 480 px, with (480/512)² of the pixels, is predicted at 84 % of it: past the headroom too.
    assert fitted.config.size == 448 and fitted.predicted_seconds <= HEADROOM * 60


def test_a_slow_device_keeps_the_smallest_good_size_and_says_it_is_over():
    fitted = fit_defaults(BASE, Speed(fixed_seconds=5.0, seconds_per_megapixel=100.0), target=60)
    assert fitted.config.size == SMALLEST_GOOD_SIZE and not fitted.fits
    note = layout.defaults_note("cpu", fitted)
    assert "smallest size that still makes a good picture" in note and "longer than 60 s" in note


def test_the_page_says_what_was_chosen_and_why():
    fitted = fit_defaults(BASE, Speed(fixed_seconds=0.05, seconds_per_megapixel=5.0), target=60)
    note = layout.defaults_note("cpu", fitted)
    assert f"{fitted.config.size} px" in note and "fits about 60 s on this CPU" in note
    assert f"about {fitted.predicted_seconds:.0f} s" in note


@pytest.mark.parametrize(("text", "seconds"), [("90", 90.0), ("", 60.0), ("soon", 60.0), ("-5", 60.0), ("0", 60.0)])
def test_the_target_comes_from_the_environment_when_it_is_a_positive_number(text, seconds):
    assert target_seconds({"STYLETRANSFER_TARGET_SECONDS": text}) == seconds


def test_measuring_the_real_device_gives_costs_that_grow_with_size_and_depth(stylizer):
    speed = measure_speed(stylizer, BASE.updated(output_depth="relu3_1"))
    assert speed.seconds_per_megapixel > 0 and speed.fixed_seconds >= 0
    assert speed.iteration_seconds((512, 384)) > speed.iteration_seconds((128, 96))
    # The output scale's network is probed on its own (its share is measured, not assumed; how much less it costs
    # depends on the CPU kind: benchmarks/README.md); a job without the cut needs no such probe.
    assert speed.shallow_share != 1.0 and 0.05 <= speed.shallow_share <= 1.0
    assert measure_speed(stylizer, BASE.updated(output_depth="full")).shallow_share == 1.0


class ScriptedDevice:
    """Stands in for a stylizer: each probe job's iterations take the next of ``seconds``, in order of the calls."""

    def __init__(self, *seconds: float) -> None:
        self.seconds = list(seconds)

    def stylize(self, content, style, config):
        each = self.seconds.pop(0)
        return (SimpleNamespace(elapsed=each * (i + 1)) for i in range(config.iterations))


@pytest.mark.parametrize("rounds", [((0.2, 1.0), (0.1, 0.5)), ((0.1, 0.5), (0.3, 1.5))])
def test_each_probe_size_counts_its_quickest_round(rounds):
    # A busy round, first or last, is outweighed by a quiet one: the sizes are timed small, large, small, large.
    device = ScriptedDevice(*(seconds for round_ in rounds for seconds in round_))
    speed = measure_speed(device, BASE.updated(output_depth="full"))
    assert not device.seconds  # every probe was run
    assert speed.iteration_seconds(PROBE_SIZES[0]) == pytest.approx(APP_SLOWDOWN * 0.1)
    assert speed.iteration_seconds(PROBE_SIZES[1]) == pytest.approx(APP_SLOWDOWN * 0.5)


def test_the_served_pace_is_the_median_of_the_last_jobs_and_ignores_the_implausible():
    pace = ServedPace()
    assert pace.factor == 1.0  # nothing learnt yet: the start-up fit as it is
    pace.record(predicted_seconds=20.0, seconds=30.0)
    assert pace.factor == pytest.approx(1.5)
    pace.record(20.0, 100.0)  # 5×: a job that waited on something else, not a pace
    pace.record(20.0, 0.0)
    assert pace.factor == pytest.approx(1.5)
    for seconds in (22.0, 24.0, 26.0, 28.0, 28.0):  # the first job (1.5) drops out of the last five
        pace.record(20.0, seconds)
    assert pace.factor == pytest.approx(26.0 / 20.0)


def test_the_time_left_starts_from_the_prediction_times_the_served_pace():
    speed = Speed(fixed_seconds=0.0, seconds_per_megapixel=10.0)
    plan = [((100, 100), 4), ((200, 100), 4)]  # 0.1 s, then 0.2 s an iteration
    first = SimpleNamespace(iteration=1, elapsed=0.15)
    assert TimeLeft(speed, plan, BASE).seconds_left(first) == pytest.approx(0.3 + 0.8)
    assert TimeLeft(speed, plan, BASE, pace=1.5).seconds_left(first) == pytest.approx(1.5 * (0.3 + 0.8))
