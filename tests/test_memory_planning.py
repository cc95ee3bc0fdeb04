"""A job plans its memory when it starts, once it holds the device, not when it is made (and queued)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from styletransfer import engine
from webapp import render
from webapp.job import Job
from webapp.jobs import Studio
from webapp.options import options_from_config

from .test_app_callbacks import CONTENT, STYLE, TINY

GIGABYTES_16 = 16 * 2**30


def test_a_job_plans_its_memory_when_its_first_event_is_asked_for(stylizer, content_image, style_image, monkeypatch):
    asked = []
    monkeypatch.setattr(engine, "available_memory", lambda device: asked.append(device) or GIGABYTES_16)
    events = stylizer.stylize(content_image, style_image, size=64, scales=1, iterations=2, preview_every=0)
    assert asked == []  # made, not started: nothing planned
    first = next(events)
    assert asked == [stylizer.device] and first.tiles == 1
    events.close()


def test_a_queued_job_plans_only_once_it_holds_the_device_lock(stylizer, monkeypatch, tmp_path):
    studio = Studio(stylizer, defaults=TINY, files=render.OutputFiles(tmp_path))
    lock_held_when_planned = []

    def available(device):
        lock_held_when_planned.append(studio._device.locked())
        return GIGABYTES_16

    monkeypatch.setattr(engine, "available_memory", available)
    assert studio._device.acquire()  # another job has the device
    job = studio.stylize(CONTENT, STYLE, None, Job(), **options_from_config(TINY, "original"))
    assert "Waiting" in next(job)[2] and "Waiting" in next(job)[2]
    assert lock_held_when_planned == []  # queued: not planned while the other job may still hold memory
    studio._device.release()  # the other job ends
    outputs = list(job)
    assert lock_held_when_planned == [True]  # planned once, under the lock, which only this job can hold now
    image, *_, png_path, _, _ = outputs[-1]
    assert isinstance(image, Image.Image) and Path(png_path).exists()
