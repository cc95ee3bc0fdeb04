"""The fair queue on the real app: one running or waiting device job per visitor, others keep their place."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gradio_client import Client, handle_file
from gradio_client.client import Job
from gradio_client.exceptions import AppError
from gradio_client.utils import Status

from tests.app_server import EXAMPLES, HANG_GUARD, running_app, visitor_client, wait_until
from webapp.fair_queue import JOBS_PER_VISITOR_ENV, admits, jobs_per_visitor, refusal
from webapp.jobs import Studio

pytestmark = pytest.mark.slow

COFFEE = EXAMPLES / "coffee.jpg"
STYLE = EXAMPLES / "style_swirls.jpg"
QUICK = {"size": 64, "multiscale": False, "iterations": 4, "preview_every": 0}
LONG = {**QUICK, "iterations": 1000}
REFUSED = "You already have a job waiting or running; stop it or wait for it"


@pytest.fixture(scope="module")
def url(studio, tmp_path_factory) -> Iterator[str]:
    with running_app(studio, queue_size=4, examples_cache=tmp_path_factory.mktemp("examples")) as url:
        yield url


def submit(client: Client, **settings) -> Job:
    return client.submit(
        content=handle_file(str(COFFEE)), style=handle_file(str(STYLE)), **settings, api_name="/stylize"
    )


def started(studio: Studio, job: Job) -> None:
    """Wait until ``job`` runs on the engine (it fails if the job ended first)."""
    wait_until(lambda: job.done() or (studio.meter.running == 1 and len(job.outputs()) > 0), "the job to start")
    assert not job.done(), job.exception()


def test_a_second_job_from_the_same_visitor_is_refused_while_another_visitor_queues_and_runs(url, studio):
    first = Client(url, verbose=False)  # the visitor 127.0.0.1
    running = submit(first, **LONG)
    started(studio, running)
    with pytest.raises(AppError, match=REFUSED):
        submit(first, **QUICK).result(timeout=HANG_GUARD)  # the same client
    with pytest.raises(AppError, match=REFUSED):
        submit(Client(url, verbose=False), **QUICK).result(timeout=HANG_GUARD)  # another session, same address
    example = next(event["id"] for event in first.config["dependencies"] if event["api_name"] == "load_example")
    with pytest.raises(AppError, match=REFUSED):  # an example's (cached) run is a job like any other
        first.submit(0, fn_index=example).result(timeout=HANG_GUARD)
    assert studio.meter.jobs_begun == studio.meter.jobs_ended + 1  # none of them reached the engine

    other = submit(visitor_client(url, 7), **QUICK)  # another visitor, through the trusted proxy
    wait_until(lambda: other.status().code == Status.IN_QUEUE, "the other visitor's job to wait its turn")
    running.cancel()
    _, _, status, *_ = other.result(timeout=HANG_GUARD)
    assert status.startswith("**Done**")
    _, _, status, *_ = submit(first, **QUICK).result(timeout=HANG_GUARD)  # its first job over, it may run again
    assert status.startswith("**Done**")


def test_right_after_a_result_the_same_visitor_may_queue_again(url):
    client = visitor_client(url, 8)
    for _ in range(3):
        _, _, status, *_ = submit(client, **QUICK).result(timeout=HANG_GUARD)
        assert status.startswith("**Done**")


def test_with_no_proxy_declared_a_forwarded_address_is_not_believed(studio, tmp_path):
    with running_app(studio, queue_size=4, examples_cache=tmp_path, trusted_proxies="") as url:
        running = submit(visitor_client(url, 9), **LONG)
        started(studio, running)
        with pytest.raises(AppError, match=REFUSED):  # another forwarded address, the same connection's: one visitor
            submit(visitor_client(url, 10), **QUICK).result(timeout=HANG_GUARD)
        running.cancel()
        wait_until(lambda: studio.meter.running == 0, "the job to stop")


def test_the_limit_is_a_setting():
    assert jobs_per_visitor({}) == 1
    assert jobs_per_visitor({JOBS_PER_VISITOR_ENV: "3"}) == 3
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(ValueError, match=JOBS_PER_VISITOR_ENV):
            jobs_per_visitor({JOBS_PER_VISITOR_ENV: bad})
    assert admits("a", ["b", "b"], 1) and not admits("a", ["a", "b"], 1) and admits("a", ["a", "b"], 2)
    assert refusal(1).startswith(REFUSED) and "2 jobs" in refusal(2)
