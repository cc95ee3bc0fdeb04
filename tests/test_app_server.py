"""The real app served on 127.0.0.1 (bundled weights, tiny sizes), driven through ``gradio_client``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import QueueError, Status
from PIL import Image

from styletransfer import SETTINGS, StyleConfig
from styletransfer.cli import build_parser, config_from_args
from tests.app_server import (
    EXAMPLES,
    HANG_GUARD,
    TINY_DEFAULTS,
    decode_video,
    running_app,
    visitor_client,
    wait_until,
)
from webapp.options import NO_TIME_LIMIT, OPTION_NAMES
from webapp.render import HOLD_FRAMES

pytestmark = pytest.mark.slow

COFFEE = EXAMPLES / "coffee.jpg"  # 600×400
ASTRONAUT = EXAMPLES / "astronaut.jpg"  # 512×512
STYLE = EXAMPLES / "style_swirls.jpg"
QUEUE_SIZE = 2
#: One scale at 64 px: a few hundredths of a second per iteration.
SMALL = {"size": 64, "multiscale": False}


@pytest.fixture(scope="module")
def url(studio, tmp_path_factory) -> Iterator[str]:
    with running_app(studio, queue_size=QUEUE_SIZE, examples_cache=tmp_path_factory.mktemp("examples")) as url:
        yield url


@pytest.fixture
def client(url) -> Client:
    return Client(url, verbose=False)


def submit(client: Client, content: Path | None = COFFEE, **settings):
    """Start a stylization through the API, as the README shows."""
    return client.submit(
        content=handle_file(str(content)) if content else None,
        style=handle_file(str(STYLE)),
        **{**SMALL, **settings},
        api_name="/stylize",
    )


def picture(output) -> str | None:
    """The picture's file in one streamed output, or ``None`` where this update left it alone."""
    return output[0] if isinstance(output[0], str) else None


def test_a_job_streams_previews_before_the_final_picture(client, studio):
    before = studio.meter.iterations
    outputs = list(submit(client, iterations=30, preview_every=5))
    *running, final = outputs
    previews = [picture(out) for out in running if picture(out)]
    assert len(set(previews)) >= 3, [out[2] for out in outputs]
    for preview in set(previews):  # coarse or not, each preview is shown at the final size
        with Image.open(preview) as shown:
            assert shown.size == (64, 43)
    image, _, status, png, video, (photo_file, result_file) = final
    assert status.startswith("**Done**") and "64×43 px" in status and "30 iterations" in status
    with Image.open(image) as shown, Image.open(png) as download:
        assert shown.size == download.size == (64, 43)
        assert download.format == "PNG"
        assert download.convert("RGB").tobytes() == shown.convert("RGB").tobytes()
    # Five previews, then the final picture held; at its size, rounded down to even sides for H.264 in yuv420p.
    assert decode_video(video) == (5 + HOLD_FRAMES, (64, 42))
    with Image.open(photo_file) as photo, Image.open(result_file) as result:
        assert photo.size == result.size == (64, 43)
    assert studio.meter.iterations - before == 30


def test_a_cancelled_job_stops_the_engine(client, studio):
    total = 1000
    before = studio.meter.iterations
    job = submit(client, iterations=total, preview_every=3)
    previews = []
    for output in job:
        if picture(output):
            previews.append(int(re.search(r"iteration (\d+)/", output[2]).group(1)))
        if len(previews) == 2:
            break
    assert studio.meter.running == 1
    job.cancel()
    wait_until(lambda: studio.meter.running == 0, "the server to close the engine's generator")
    done = studio.meter.iterations - before
    # The engine stopped within a few iterations of the cancel: nowhere near the job's length.
    assert previews[1] <= done < total / 10, (previews, done)


def test_a_missing_image_is_a_clear_error(client, studio):
    begun = studio.meter.jobs_begun
    with pytest.raises(AppError, match="Please add a content image"):
        submit(client, content=None).result(timeout=HANG_GUARD)
    assert studio.meter.jobs_begun == begun


def test_two_clients_at_once_each_get_their_own_result(url, studio):
    jobs = {
        content: submit(visitor_client(url, index), content=content, iterations=20)
        for index, content in enumerate((COFFEE, ASTRONAUT))
    }
    results = {content: job.result(timeout=HANG_GUARD) for content, job in jobs.items()}
    sizes = {content: Image.open(result[0]).size for content, result in results.items()}
    assert sizes == {COFFEE: (64, 43), ASTRONAUT: (64, 64)}
    assert all(result[2].startswith("**Done**") for result in results.values())
    assert studio.meter.peak == 1  # one stylization at a time on the device


def test_beyond_the_queue_limit_new_jobs_are_turned_away(url, studio):
    clients = [visitor_client(url, index) for index in range(QUEUE_SIZE + 2)]  # each its own visitor
    running = submit(clients[0], iterations=1000)
    wait_until(lambda: studio.meter.running == 1, "the first job to start")
    waiting = [submit(client, iterations=10) for client in clients[1 : QUEUE_SIZE + 1]]
    wait_until(lambda: all(job.status().code == Status.IN_QUEUE for job in waiting), "the next jobs to queue")
    with pytest.raises(QueueError, match="Queue is full"):
        submit(clients[-1], iterations=10).result(timeout=HANG_GUARD)
    for job in [*waiting, running]:
        job.cancel()
    wait_until(lambda: studio.meter.running == 0, "the running job to stop")


def test_the_cli_the_api_and_the_config_are_made_from_one_table(client, studio):
    """Every setting has the same name, default, range and choices in the config, on the command line and in the
    API's ``/stylize`` parameters: the parser and the served page are built here and compared with the table."""
    parameters = {
        parameter["parameter_name"]: parameter
        for parameter in client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/stylize"][
            "parameters"
        ]
    }
    boxes = {
        component["props"]["elem_id"]: component["props"]
        for component in client.config["components"]
        if str(component.get("props", {}).get("elem_id")).startswith("option-")
    }
    flags = {action.dest: action for action in build_parser()._actions}
    config = StyleConfig()
    regions = {"regions", "mask", "second_mask", "keep_mask"}
    assert set(parameters) == {"content", "style", "second_style", *OPTION_NAMES, *regions}
    assert set(SETTINGS) <= set(flags) and {f.name for f in fields(StyleConfig)} == set(SETTINGS)
    for name, described in SETTINGS.items():
        flag = flags[name]
        assert described.flag in flag.option_strings, name
        assert flag.default == getattr(config, name) == described.default, name
        assert flag.choices == (described.values or None), name
        if described.low is not None:  # the command line takes the range's ends and refuses beyond them
            for value, allowed in [(described.low, True), (described.high, True), (described.high * 2 + 1, False)]:
                text = str(int(value)) if described.kind == "whole" else repr(float(value))
                args = build_parser().parse_args(["photo.jpg", "painting.jpg", described.flag, text])
                if allowed:
                    assert getattr(config_from_args(args), name) == value, name
                else:
                    with pytest.raises(ValueError, match=name):
                        config_from_args(args)
        if described.row is None:
            assert name not in parameters
            continue
        parameter = parameters[name]
        shown = getattr(studio.defaults, name)
        assert parameter["parameter_default"] == (NO_TIME_LIMIT if shown is None else shown), name
        if described.choices:
            assert parameter["type"]["enum"] == list(described.values), name
        if described.low is not None:
            bound = studio.bounds.highest(name)
            high = described.high if bound is None else min(described.high, bound)
            if "description" in parameter["type"]:  # a slider states its range in the API
                low_shown, high_shown = map(float, re.findall(r"-?[\d.]+", parameter["type"]["description"]))
            else:  # a number box keeps it in the page's config
                low_shown, high_shown = boxes[f"option-{name}"]["minimum"], boxes[f"option-{name}"]["maximum"]
            assert (low_shown, high_shown) == (described.low, high), name
    # the page's defaults are the table's, but for what the studio was given for its device (here: tiny jobs)
    changed = {name for name in SETTINGS if getattr(studio.defaults, name) != getattr(config, name)}
    assert changed == {name for name in SETTINGS if getattr(TINY_DEFAULTS, name) != getattr(config, name)}


def test_a_mask_file_through_the_api_paints_inside_it_and_leaves_the_rest(client, tmp_path):
    """A ``gradio_client`` user sends a plain mask image: the left half is painted, the right half much less."""
    with Image.open(COFFEE) as coffee:
        width, height = coffee.size
        mask = Image.new("L", (width, height), 0)
        mask.paste(255, (0, 0, width // 2, height))
        mask.save(tmp_path / "left.png")
        image, _, status, *_ = client.predict(
            content=handle_file(str(COFFEE)),
            style=handle_file(str(STYLE)),
            mask=handle_file(str(tmp_path / "left.png")),
            size=96,
            multiscale=False,
            iterations=30,
            preview_every=0,
            api_name="/stylize",
        )
        assert status.startswith("**Done**")
        with Image.open(image) as picture:
            painted = np.asarray(picture.convert("RGB"), np.float32)
            photo = np.asarray(coffee.convert("RGB").resize(picture.size, Image.Resampling.LANCZOS), np.float32)
    change = np.abs(painted - photo).mean(axis=(0, 2))
    inside, outside = change[: 96 // 2 - 10].mean(), change[96 // 2 + 10 :].mean()
    assert inside > 4 * outside and outside < 8.0, (inside, outside)
