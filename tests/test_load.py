"""A load test: many people on the real app at once over loopback, some of them leaving mid-run.

``STYLETRANSFER_LOAD_CLIENTS`` sets how many (default 20, which CI runs: the jobs are
tiny). Run with ``-s`` to see the figures: outcomes, throughput and memory.
"""

from __future__ import annotations

import gc
import os
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from gradio_client import handle_file
from gradio_client.client import Job
from gradio_client.utils import QueueError, Status
from PIL import Image

from tests.app_server import EXAMPLES, HANG_GUARD, bundled_studio, running_app, visitor_client, wait_until
from webapp.jobs import Studio
from webapp.layout import QUEUE_SIZE

pytestmark = pytest.mark.slow

CLIENTS = int(os.environ.get("STYLETRANSFER_LOAD_CLIENTS", "20"))
COFFEE = EXAMPLES / "coffee.jpg"
STYLE = EXAMPLES / "style_swirls.jpg"
JOB = {"size": 64, "multiscale": False, "iterations": 12, "preview_every": 3}
#: Resident memory may end this much above where it started: allocator slack, plus what Gradio keeps for each
#: session (a copy of the page's settings; up to ``app.SESSIONS_KEPT`` sessions). Leaked tensors are counted
#: exactly instead.
MEMORY_SLACK_MIB = 64
SESSION_MIB = 2


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[tuple[Studio, str]]:
    """The app as deployed (queue of :data:`~webapp.layout.QUEUE_SIZE`): its studio, and its URL."""
    studio = bundled_studio()
    with running_app(studio, queue_size=QUEUE_SIZE, examples_cache=tmp_path_factory.mktemp("examples")) as url:
        yield studio, url


def live_tensors() -> int:
    """Tensors alive in this process (the server runs in it)."""
    gc.collect()
    with warnings.catch_warnings():  # isinstance() pokes a deprecated torch.distributed alias among the objects
        warnings.simplefilter("ignore", FutureWarning)
        return sum(1 for thing in gc.get_objects() if isinstance(thing, torch.Tensor))


def resident_mib() -> float:
    """This process's resident memory (the server runs in it)."""
    gc.collect()
    with open("/proc/self/status") as status:
        kilobytes = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kilobytes / 1024


def person(url: str, index: int) -> str:
    """One visitor (behind the trusted proxy, with an address of their own) and their client; see :func:`visit`."""
    client = visitor_client(url, index)
    try:
        job = client.submit(content=handle_file(str(COFFEE)), style=handle_file(str(STYLE)), **JOB, api_name="/stylize")
        return visit(job, index)
    finally:
        client.close()  # the tab closes


def visit(job: Job, index: int) -> str:
    """Follow one job to its end: visitor 2 of every 5 leaves while waiting, visitor 4 mid-run, the rest stay."""
    if index % 5 == 2:
        wait_until(lambda: job.status().code not in (Status.STARTING, Status.JOINING_QUEUE), "the job to be queued")
        job.cancel()
        return "cancelled while waiting"
    if index % 5 == 4:
        deadline = time.monotonic() + HANG_GUARD
        while not job.done() and time.monotonic() < deadline:
            if any(isinstance(output[0], str) for output in job.outputs()):  # the first preview: leave now
                job.cancel()
                return "cancelled mid-run"
            time.sleep(0.02)
    try:
        image, _, status, *_ = job.result(timeout=HANG_GUARD)
    except QueueError as error:
        assert "Queue is full" in str(error)
        return "turned away (busy)"
    assert status.startswith("**Done**") and f"{JOB['iterations']} iterations" in status, status
    with Image.open(image) as picture:
        assert picture.size == (64, 43)
    return "completed"


def crowd(url: str, size: int) -> Counter[str]:
    """``size`` visitors at once; how their jobs ended. A visitor still waiting after the hang guard fails it."""
    pool = ThreadPoolExecutor(size)
    try:
        futures = [pool.submit(person, url, index) for index in range(size)]
        return Counter(future.result(timeout=HANG_GUARD) for future in futures)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads resident memory from /proc")
def test_many_people_at_once_none_lost_none_hung_memory_back(app):
    studio, url = app
    crowd(url, CLIENTS)  # a first crowd, so that the baseline is a warm server's (thread arenas, caches)
    wait_until(lambda: studio.meter.running == 0, "the first crowd's jobs to end")
    baseline, tensors = resident_mib(), live_tensors()
    begun, iterations = studio.meter.jobs_begun, studio.meter.iterations

    start = time.perf_counter()
    outcomes = crowd(url, CLIENTS)
    wait_until(lambda: studio.meter.running == 0, "every engine generator to close")
    seconds = time.perf_counter() - start
    jobs, done = studio.meter.jobs_begun - begun, studio.meter.iterations - iterations

    assert sum(outcomes.values()) == CLIENTS  # no job lost: each ended in one of the four ways
    assert outcomes["completed"] >= sum(1 for index in range(CLIENTS) if index % 5 not in (2, 4)) - (
        CLIENTS - QUEUE_SIZE
    ), outcomes
    assert outcomes["turned away (busy)"] <= max(0, CLIENTS - QUEUE_SIZE), outcomes  # only those beyond the queue
    assert studio.meter.jobs_begun == studio.meter.jobs_ended and studio.meter.peak == 1
    assert person(url, 1) == "completed"  # the queue moved on
    after, tensors_after = resident_mib(), live_tensors()
    print(
        f"\n{CLIENTS} clients: {dict(outcomes)}; {jobs} of their jobs ran on the engine, in {seconds:.1f} s "
        f"({outcomes['completed'] / seconds * 60:.0f} completed jobs/min, {done / seconds:.0f} iterations/s); "
        f"resident memory {baseline:.0f} MiB before, {after:.0f} MiB after; live tensors {tensors} → {tensors_after}"
    )
    assert tensors_after == tensors  # every job's tensors freed, the cancelled ones' too
    assert after - baseline < MEMORY_SLACK_MIB + SESSION_MIB * (CLIENTS + 1)
