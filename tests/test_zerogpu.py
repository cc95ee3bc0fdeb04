"""The ZeroGPU path, through the real ``spaces`` package as far as it runs off a Space.

``spaces.GPU``'s generator wrapper (``spaces/zero/wrappers.py``) is run for real: it forks a worker process, sends
it the GPU function's arguments through its multiprocessing queue (pickled), and the values the function yields
back the same way; a closed generator sets its stop event. Only what needs a Space is stubbed: the scheduler's HTTP
calls and the moves of tensors to a GPU. On the old design (the page's ``Job`` among the arguments) the first job
failed with ``TypeError: cannot pickle '_thread.lock' object``.
"""

from __future__ import annotations

import importlib
import multiprocessing
import pickle
import sys
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import pytest
import spaces.zero.decorator
import torch
from PIL import Image

import app
from styletransfer import Progress
from styletransfer.engine import Evaluation
from tests.app_server import wait_until
from webapp import render, zerogpu
from webapp.job import Job, JobState
from webapp.jobs import Studio
from webapp.options import options_from_config
from webapp.zerogpu import Failure, Request

from .test_app_callbacks import CONTENT, STYLE, TINY


class Scheduler:
    """Stands in for ZeroGPU's device API: every job gets GPU 0 at once; records how each one ended."""

    def __init__(self) -> None:
        self.released: list[bool] = []
        """For each job, whether ``spaces`` released its GPU as failed."""

    def client(self) -> types.SimpleNamespace:
        """The functions of ``spaces.zero.client`` that the wrapper calls, for a Space that is not there."""
        from spaces.zero.api import ScheduleResponse

        response = ScheduleResponse(idle=True, nvidiaIndex=0, nvidiaUUID="GPU-0", allowToken="token")
        return types.SimpleNamespace(
            schedule=lambda **_: response,
            release=lambda token, fail=False, allow_404=False: self.released.append(fail),
            allow=lambda token: None,
            get_duration_seconds=lambda duration, size: duration.total_seconds(),
            duration_warning=lambda: None,
        )


#: ``spaces.zero.torch``, off a GPU: the worker has no GPU to initialise and no tensors to move there.
NO_GPU = types.SimpleNamespace(
    enter_mode=lambda: None, unpatch=lambda: None, init=lambda uuid: None, size=lambda: 0, move=lambda callback: None
)


@pytest.fixture
def zero_gpu(monkeypatch) -> Iterator[tuple[Callable[[Callable], Callable], Scheduler]]:
    """``spaces``' real ZeroGPU generator wrapper, as ``spaces.GPU(duration=...)`` applies it on a Space, and the
    stand-in scheduler. The worker processes it forks are ended after the test."""
    monkeypatch.setitem(sys.modules, "spaces.zero.torch", NO_GPU)
    monkeypatch.delitem(sys.modules, "spaces.zero.wrappers", raising=False)
    wrappers = importlib.import_module("spaces.zero.wrappers")
    scheduler = Scheduler()
    monkeypatch.setattr(wrappers, "client", scheduler.client())
    before = set(multiprocessing.active_children())

    def on_device(task: Callable) -> Callable:
        return wrappers.generator_function_wrapper(task, zerogpu.GPU_SECONDS, None)

    yield on_device, scheduler
    sys.modules.pop("spaces.zero.wrappers", None)
    for worker in set(multiprocessing.active_children()) - before:
        worker.kill()
        worker.join()


@pytest.fixture
def studio(stylizer, zero_gpu, tmp_path) -> Studio:
    """A studio whose GPU function runs in a ZeroGPU worker process."""
    on_device, _ = zero_gpu
    return Studio(stylizer, defaults=TINY, files=render.OutputFiles(tmp_path), on_device=on_device)


def options(**changes) -> dict:
    return {**options_from_config(TINY, "original"), **changes}


def test_a_job_runs_through_zerogpus_worker_process(studio, zero_gpu):
    _, scheduler = zero_gpu
    outputs = list(studio.stylize(CONTENT, STYLE, None, Job(), **options()))
    previews = [out[0] for out in outputs[1:-1] if isinstance(out[0], Image.Image)]
    image, _, status, png_path, video_path, (before, after) = outputs[-1]
    assert len(previews) == 4 and status.startswith("**Done**") and image.size == before.size == (72, 48)
    assert after.tobytes() == image.tobytes() and Path(png_path).exists() and Path(video_path).exists()
    assert scheduler.released == [False]  # the worker's generator ended and spaces handed the GPU back
    assert len(multiprocessing.active_children()) >= 1  # the work ran in a forked process, kept for the next job


def test_stop_reaches_the_gpu_process_and_the_gpu_is_handed_back(studio, zero_gpu):
    _, scheduler = zero_gpu
    record = Job()
    job = studio.stylize(CONTENT, STYLE, None, record, **options(iterations=500, preview_every=2))
    while not isinstance(next(job)[0], Image.Image):
        pass
    with ThreadPoolExecutor(1) as pool:
        stopping = pool.submit(studio.stop, record)
        wait_until(lambda: record.stop_requested, "Stop to ask the run to end")
        assert list(job) == []
        status, png_path, _, _ = stopping.result(timeout=60)
    assert status.startswith("**Stopped** at iteration") and Path(png_path).exists()
    assert scheduler.released == [False]
    # The same worker takes the next job: spaces asserts that the stopped one left nothing in its queues.
    assert list(studio.stylize(CONTENT, STYLE, None, Job(), **options()))[-1][2].startswith("**Done**")
    assert scheduler.released == [False, False]


def test_running_out_of_memory_in_the_gpu_process_keeps_its_message(studio, zero_gpu, monkeypatch):
    _, scheduler = zero_gpu

    def out_of_memory(self, image):  # patched before the worker is forked, so it runs there
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Evaluation, "__call__", out_of_memory)
    record = Job()
    with pytest.raises(gr.Error, match=r"Ran out of memory on CPU, \w+ at 72×48 pixels\. Try a smaller output size\."):
        list(studio.stylize(CONTENT, STYLE, None, record, **options()))
    assert record.state is JobState.FAILED and scheduler.released == [False]


def test_what_the_gpu_function_takes_and_yields_pickles(stylizer, tmp_path):
    """The contract without a worker process: the request and every event of a real job survive ``pickle``."""
    studio = Studio(stylizer, defaults=TINY, files=render.OutputFiles(tmp_path), on_device=lambda fn: fn)
    sent = []

    def paint(request: Request) -> Iterator[Progress | Failure]:
        sent.append(request)
        for event in Studio.paint(studio, request):
            sent.append(event)
            yield event

    studio._paint_on_device = paint
    list(studio.stylize(CONTENT, STYLE, None, Job(), **options()))
    request, *events = sent
    assert pickle.loads(pickle.dumps(request)) == request
    assert len(events) == 9 and events[-1].final
    for event in events:
        again = pickle.loads(pickle.dumps(event))
        assert (again.iteration, again.losses) == (event.iteration, event.losses)
        if event.image is not None:
            assert again.image.tobytes() == event.image.tobytes()


def test_previews_come_at_a_bounded_display_size_and_the_final_picture_at_full_size(studio, monkeypatch):
    monkeypatch.setattr(render, "PREVIEW_SIDE", 36)
    outputs = list(studio.stylize(CONTENT, STYLE, None, Job(), **options()))
    previews = [out[0] for out in outputs[1:-1] if isinstance(out[0], Image.Image)]
    assert len(previews) == 4 and all(preview.size == (36, 24) for preview in previews)
    image, *_, (before, after) = outputs[-1]
    assert image.size == before.size == after.size == (72, 48)


def test_the_gpu_decorator_is_spaces_where_it_is_installed(monkeypatch):
    def fn():
        return "ran"

    real = zerogpu.gpu_decorator()  # spaces is installed: its GPU, which changes nothing off a ZeroGPU Space
    assert real.func is spaces.zero.decorator._GPU and real.keywords["duration"] == zerogpu.GPU_SECONDS
    assert real(fn) is fn and not zerogpu.on_zero_gpu()
    monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces → ImportError
    assert zerogpu.gpu_decorator()(fn) is fn and not zerogpu.on_zero_gpu()
    calls = []
    fake = types.SimpleNamespace(GPU=lambda duration: calls.append(duration) or (lambda f: ("on gpu", f)))
    monkeypatch.setitem(sys.modules, "spaces", fake)
    assert zerogpu.gpu_decorator()(fn) == ("on gpu", fn)
    assert calls == [zerogpu.GPU_SECONDS]


def test_on_zero_gpu_the_app_times_nothing_at_start_up(stylizer, monkeypatch, tmp_path):
    """There is no GPU outside a GPU call: warming up or fitting the defaults there would time the CPU."""
    calls = []
    studio = Studio(stylizer, defaults=TINY, on_device=lambda fn: fn)
    monkeypatch.setattr(studio, "warm_up", lambda: calls.append("warm up"))
    monkeypatch.setattr(studio, "fit_defaults", lambda target: calls.append("fit"))
    monkeypatch.setattr(app.Studio, "from_environment", lambda: studio)
    monkeypatch.setattr(app, "launch", lambda demo, **server: calls.append("launch"))
    monkeypatch.setattr(app, "on_zero_gpu", lambda: True)
    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path))
    app.main([])
    assert calls == ["launch"] and studio.fitted is None and studio.defaults == TINY
