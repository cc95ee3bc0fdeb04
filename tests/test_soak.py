"""The soak (``python -m benchmarks.soak``): its verdicts on made-up runs, and a two-minute run against a real
server process, four clients."""

from __future__ import annotations

import pytest

from benchmarks.soak import ACTIONS, JobRecord, Sample, Soak, soak, summary, verdicts
from benchmarks.soak_plot import plot_soak
from webapp.sweeper import KEEP_FILES_ENV, keep_files_seconds, sweep_interval


def steady(**changes) -> Soak:
    """A 6-minute soak in which nothing grows (after a 90 s warm-up), with ``changes`` applied to each sample's
    figures as functions of its index."""
    result = Soak(minutes=6, clients=2, keep_files=30, warmup=90, after=True)
    for index in range(37):
        figures = {"rss_mb": 900 + index % 3, "fds": 40 + index % 2, "threads": 30, "temp_mb": 5.0 + index % 2}
        figures.update({name: change(index) for name, change in changes.items()})
        result.samples.append(Sample(seconds=index * 10, temp_files=10, downloads_mb=1.0, queue=1, **figures))
    result.jobs = [JobRecord(0, "good", 1, 3, "done"), JobRecord(1, "cancel", 2, 4, "cancelled", freed_after=0.5)]
    return result


def failing(result: Soak) -> list[str]:
    return [name for name, ok, _ in verdicts(result) if not ok]


def test_a_steady_soak_passes_and_each_kind_of_harm_fails_its_own_check():
    assert failing(steady()) == []
    short = "memory within 5 % of its level at 1.5 min (last third's median)"
    assert failing(steady(rss_mb=lambda i: 900 + 4 * i)) == [short]  # growth
    assert failing(steady(rss_mb=lambda i: 960 if i == 30 else 900)) == []  # one sample's swing, in a short run
    long = steady(rss_mb=lambda i: 960 if i == 30 else 900)
    long.minutes = 30
    assert failing(long) == ["memory within 5 % of its level at 1.5 min"]  # a long run judges every sample
    assert failing(steady(fds=lambda i: 40 + 3 * i)) == ["descriptors not growing"]
    assert failing(steady(threads=lambda i: 30 + 2 * i)) == ["threads not growing"]
    assert failing(steady(temp_mb=lambda i: 0.5 * i)) == ["Gradio's temporary folder (MB) not growing"]
    lost = steady()
    lost.jobs.append(JobRecord(1, "drop", 5, 9, "lost", "its visitor was not let in again for 60 s"))
    assert failing(lost) == ["no job lost (3 jobs)"]
    lost.after = False
    assert "a normal job done after" in failing(lost)


def test_the_time_files_are_kept_is_a_setting():
    assert keep_files_seconds({}) == 3600 and sweep_interval(3600) == 300
    assert keep_files_seconds({KEEP_FILES_ENV: "40"}) == 40 and sweep_interval(40) == 10
    for bad in ("5", "soon", "inf", "nan", "-60"):
        with pytest.raises(ValueError, match=KEEP_FILES_ENV):
            keep_files_seconds({KEEP_FILES_ENV: bad})


@pytest.mark.slow
def test_a_two_minute_soak_loses_no_job_and_nothing_grows(tmp_path):
    result = soak(2, 4, tmp_path / "soak", keep_files=30)
    passed, text = summary(result)
    print(text)
    plot_soak(result, tmp_path / "soak.png")
    assert passed, text
    assert set(ACTIONS) <= {job.kind for job in result.jobs}, "every kind of action was tried"
    assert any(job.freed_after is not None for job in result.jobs)  # a cancelled or dropped job was let go
