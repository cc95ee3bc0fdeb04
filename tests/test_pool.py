"""The app's jobs and the batch on a real local Ray cluster (CPU workers), through the real server and
``gradio_client``; the settings; and the default path, which must not need Ray.

The Ray tests skip, saying why, where Ray is not installed (``pip install -r requirements-ray.txt``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.client import Job
from gradio_client.exceptions import AppError

from benchmarks.clips import make_clip
from styletransfer import batch
from styletransfer.pool import PoolSetting, plan_workers
from tests.app_server import HANG_GUARD, TINY_DEFAULTS, decode_video, running_app, visitor_client, wait_until
from webapp.job import Job as PageJob
from webapp.job import JobState
from webapp.jobs import Studio
from webapp.options import options_from_config
from webapp.render import OutputFiles

from .conftest import EXAMPLES, ROOT, run_in_process

pytestmark = pytest.mark.slow

NO_RAY = "Ray is not installed (pip install -r requirements-ray.txt); the pool's tests need a local Ray cluster"
COFFEE, STYLE = EXAMPLES / "coffee.jpg", EXAMPLES / "style_swirls.jpg"
#: Long enough for two to overlap, with a preview every few iterations.
JOB = {"size": 64, "multiscale": False, "iterations": 40, "preview_every": 4}
LONG = {**JOB, "iterations": 1000}
QUICK = {**JOB, "iterations": 4}
#: A worker may take this long (seconds) to notice a cancel: the rest of one iteration at 64 px, Ray's round trips
#: and Gradio's cancel (which takes effect at the generator's next status line, half a second apart).
FREED_WITHIN = 5.0


# The settings


@pytest.mark.parametrize(
    ("text", "workers", "expected"),
    [
        ("", None, None),
        ("local", None, PoolSetting(None, None)),
        ("local:3", None, PoolSetting(None, 3)),
        ("auto", "4", PoolSetting("auto", 4)),
        ("ray://head:10001", None, PoolSetting("ray://head:10001", None)),
    ],
)
def test_pool_settings(text, workers, expected):
    assert PoolSetting.parse(text, workers) == expected


@pytest.mark.parametrize("text", ["local:0", "local:two", "local:-1"])
def test_a_bad_worker_count_is_refused_by_name(text):
    with pytest.raises(ValueError, match="number of workers must be a whole number"):
        PoolSetting.parse(text)


def test_one_worker_per_gpu_else_a_share_of_the_cores():
    assert plan_workers(PoolSetting("auto"), gpus=8, cpus=64, nodes=2) == (8, 1, 8)
    assert plan_workers(PoolSetting("auto", 2), gpus=8, cpus=64, nodes=2) == (2, 1, 32)
    assert plan_workers(PoolSetting(None, 2), gpus=0, cpus=2, nodes=1) == (2, 0, 1)
    assert plan_workers(PoolSetting(None), gpus=0, cpus=2, nodes=1) == (1, 0, 2)
    assert plan_workers(PoolSetting("auto"), gpus=0, cpus=48, nodes=3) == (3, 0, 16)
    with pytest.raises(ValueError, match="has 2 GPUs"):
        plan_workers(PoolSetting("auto", 3), gpus=2, cpus=16, nodes=1)
    with pytest.raises(ValueError, match="has 1 free CPUs"):
        plan_workers(PoolSetting(None, 2), gpus=0, cpus=1, nodes=1)


# The default path: no Ray


RAY_FREE = """
import sys
sys.modules["ray"] = None  # `import ray` now fails, as where it is not installed
import app
from styletransfer import StyleConfig
from webapp.jobs import Studio
from webapp.options import options_from_config

assert app.pool_setting(app.parse_args([]), {}) is None
config = StyleConfig(size=48, scales=1, iterations=3, preview_every=0)
studio = Studio.from_environment(device="cpu", defaults=config)
outputs = list(studio.stylize(sys.argv[1], sys.argv[2], **options_from_config(config, "original")))
print(outputs[-1][2].splitlines()[0])
print("pool" if studio.pool is not None else "in process", studio.slots)
"""


def test_without_a_setting_the_app_runs_jobs_in_its_process_with_ray_unimportable():
    environ = {key: value for key, value in os.environ.items() if not key.startswith("STYLETRANSFER_RAY")}
    result = subprocess.run(
        [sys.executable, "-c", RAY_FREE, str(COFFEE), str(STYLE)],
        cwd=ROOT,
        env={**environ, "STYLETRANSFER_WEIGHTS": "bundled"},
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert result.returncode == 0, result.stderr
    done, where = result.stdout.strip().splitlines()[-2:]
    assert done.startswith("**Done**") and where == "in process 1"


# On a local Ray cluster


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    """A local Ray cluster for this module, with room for the app's two workers and the batch's two: each pool's
    workers share this machine's cores, so the cluster counts them twice."""
    ray = pytest.importorskip("ray", reason=NO_RAY)
    ray.init(
        num_cpus=2 * (os.cpu_count() or 1),
        object_store_memory=256 * 2**20,
        include_dashboard=False,
        configure_logging=False,
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def pooled(ray_session, stylizer, tmp_path_factory) -> Iterator[tuple[Studio, str]]:
    """The app on a pool of two workers (the bundled weights), served: its studio and its URL."""
    from webapp.pool import AppPool

    pool = AppPool.start(PoolSetting(None, 2), {"STYLETRANSFER_WEIGHTS": "bundled"})
    studio = Studio(stylizer, defaults=TINY_DEFAULTS, files=OutputFiles(tmp_path_factory.mktemp("files")), pool=pool)
    try:
        with running_app(studio, queue_size=8, examples_cache=tmp_path_factory.mktemp("examples")) as url:
            yield studio, url
    finally:
        pool.close()


def submit(client: Client, **settings) -> Job:
    return client.submit(
        content=handle_file(str(COFFEE)), style=handle_file(str(STYLE)), **settings, api_name="/stylize"
    )


def previews(job: Job) -> int:
    """The pictures ``job`` has streamed so far (previews and, at the end, the result)."""
    return sum(isinstance(output[0], str) for output in job.outputs())


def all_free(studio: Studio) -> bool:
    return studio.pool.pool.free == studio.pool.size


def test_two_visitors_jobs_run_at_once_on_two_workers_and_both_stream_previews(pooled):
    studio, url = pooled
    assert studio.slots == 2 and "Ray pool of 2 workers" in studio.hardware_line(studio.stylizer)
    first, second = visitor_client(url, 1), visitor_client(url, 2)
    jobs = [submit(first, **JOB), submit(second, **JOB)]
    wait_until(lambda: len(studio.pool.pool.busy()) == 2, "both workers to run a job")
    with pytest.raises(AppError, match="You already have a job waiting or running"):
        submit(first, **QUICK).result(timeout=HANG_GUARD)  # the fair queue holds across the pool
    for job in jobs:
        _, _, status, *_ = job.result(timeout=HANG_GUARD)
        assert status.startswith("**Done**") and "Ray pool of 2 workers" in status
        assert previews(job) >= 1 + JOB["iterations"] // JOB["preview_every"] // 2  # streamed while it ran
    assert studio.meter.peak == 2


def test_a_stopped_or_cancelled_job_frees_its_worker_at_once(pooled):
    studio, url = pooled
    wait_until(lambda: all_free(studio), "the workers to be free")
    page_job = PageJob()  # Stop, as the page's button calls it
    options = options_from_config(TINY_DEFAULTS.updated(size=64, scales=1, iterations=1000), "original")
    with ThreadPoolExecutor(1) as page:
        running = page.submit(list, studio.stylize(str(COFFEE), str(STYLE), None, page_job, **options))
        wait_until(lambda: page_job.latest is not None, "the first preview")
        start = time.monotonic()
        status, *_ = studio.stop(page_job)
        freed = time.monotonic() - start
        running.result(timeout=HANG_GUARD)
    assert page_job.state is JobState.STOPPED and status.startswith("**Stopped**")
    assert all_free(studio) and freed < FREED_WITHIN

    job = submit(visitor_client(url, 3), **LONG)  # gradio_client's cancel (a closed tab closes the generator too)
    wait_until(lambda: previews(job) > 0, "the first preview")
    start = time.monotonic()
    job.cancel()
    wait_until(lambda: all_free(studio), "the cancelled job's worker to be free", timeout=FREED_WITHIN)
    print(f"\nworker free {time.monotonic() - start:.2f} s after gradio_client's cancel")


def test_a_worker_killed_mid_job_fails_that_job_clearly_and_the_next_job_runs(pooled):
    studio, url = pooled
    wait_until(lambda: all_free(studio), "the workers to be free")
    client = visitor_client(url, 4)
    job = submit(client, **LONG)
    wait_until(lambda: previews(job) > 0, "the first preview")
    (worker,) = studio.pool.pool.busy()
    os.kill(worker, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    with pytest.raises(AppError, match="worker running this job stopped unexpectedly"):
        job.result(timeout=HANG_GUARD)
    wait_until(lambda: all_free(studio), "a new worker in the lost one's place")  # the lost one is never put back
    _, _, status, *_ = submit(client, **QUICK).result(timeout=HANG_GUARD)
    assert status.startswith("**Done**")


def test_a_clip_is_made_on_a_worker_from_its_bytes(pooled, tmp_path):
    _, url = pooled
    clip = make_clip(tmp_path / "clip.mp4", size=(96, 64), frames=4, rate=8)
    _, status, video, _ = visitor_client(url, 5).predict(
        handle_file(str(clip)), handle_file(str(STYLE)), 48, 200, 2, api_name="/stylize_video"
    )
    assert "Done" in status and "4 frames of 48×32 px" in status and "Ray pool of 2 workers" in status
    assert decode_video(video["video"] if isinstance(video, dict) else video) == (4, (48, 32))


def batch_arguments(photos: Path, paintings: Path, output: Path, size: int, *ray: str) -> list[str]:
    """A batch of tiny jobs (one scale, three iterations), with the flags ``ray``."""
    tiny = ["--size", str(size), "--scales", "1", "--iterations", "3", "--preview-every", "0"]
    return [str(photos), str(paintings), "-o", str(output), "--weights", "bundled", *tiny, *ray]


def test_a_two_by_two_batch_on_the_cluster_writes_four_pictures_and_skips_them_when_run_again(
    ray_session, tmp_path, capsys
):
    photos, paintings, output = tmp_path / "photos", tmp_path / "paintings", tmp_path / "out"
    for folder, names in ((photos, ["cat.jpg", "coffee.jpg"]), (paintings, ["style_ink.jpg", "style_swirls.jpg"])):
        folder.mkdir()
        for name in names:
            shutil.copy(EXAMPLES / name, folder / name)
    on_the_cluster = batch_arguments(photos, paintings, output, 48, "--ray", "local:2")
    ran = run_in_process(batch.main, on_the_cluster, capsys)
    assert ran.code == 0, ran.err
    made = sorted(path.name for path in output.iterdir())
    assert len(made) == 4 and all(name.endswith(".png") for name in made), made
    assert made[0].startswith("cat--style_ink--48px-") and "4 jobs, 0 already made" in ran.err
    stamps = {path: path.stat().st_mtime_ns for path in output.iterdir()}

    again = run_in_process(batch.main, on_the_cluster, capsys)
    assert again.code == 0 and "4 jobs, 4 already made" in again.err
    assert {path: path.stat().st_mtime_ns for path in output.iterdir()} == stamps

    here = run_in_process(batch.main, batch_arguments(photos, paintings, output, 56), capsys)  # in this process
    assert here.code == 0 and "4 jobs, 0 already made" in here.err  # other settings: other files
    assert len(list(output.iterdir())) == 8


def test_a_batch_names_its_outputs_by_pair_and_settings(tmp_path):
    table = tmp_path / "pairs.csv"
    table.write_text("photo,painting\na/cat.jpg,b/ink.png\nc/cat.jpg,b/ink.png\n")
    config = TINY_DEFAULTS
    with pytest.raises(ValueError, match="share a name"):
        batch.plan(batch.read_pairs(table), tmp_path, config, "bundled")
    (first,) = batch.plan(batch.read_pairs(table)[:1], tmp_path, config, "bundled")
    assert first.photo == tmp_path / "a" / "cat.jpg" and first.output.name.startswith("cat--ink--80px-")
    assert batch.settings_tag(config, "bundled") != batch.settings_tag(config.updated(seed=1), "bundled")
    assert batch.settings_tag(config, "bundled") != batch.settings_tag(config, "hub")
