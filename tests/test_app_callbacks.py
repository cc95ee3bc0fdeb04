"""The app's callbacks and helpers, called directly (no server): validation, option mapping, outputs."""

from __future__ import annotations

import math
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import pandas as pd
import pytest
import torch
from PIL import Image

import app
from styletransfer import OutOfMemoryError, Progress, StyleConfig, load_image, scale_plan
from tests.app_server import decode_video, wait_until
from webapp import layout, render
from webapp.fitting import Speed
from webapp.job import Job, JobState
from webapp.jobs import Studio
from webapp.options import (
    CPU_BOUNDS,
    CPU_DEFAULTS,
    GPU_BOUNDS,
    GPU_DEFAULTS,
    OPTION_NAMES,
    bounds_for,
    build_config,
    defaults_for,
    options_from_config,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONTENT = str(EXAMPLES / "coffee.jpg")  # 600×400
STYLE = str(EXAMPLES / "style_swirls.jpg")
SECOND_STYLE = str(EXAMPLES / "style_mosaic.jpg")
#: Tiny and quick: two scales (48×32 and 72×48 for the coffee photo), 9 iterations, a preview every 2.
TINY = StyleConfig(size=72, min_size=48, scales=2, coarse_iterations=3, iterations=6, preview_every=2)


@pytest.fixture(scope="module")
def studio(stylizer, tmp_path_factory) -> Studio:
    """A studio on the shared CPU stylizer (bundled weights) with tiny defaults."""
    return Studio(stylizer, defaults=TINY, files=render.OutputFiles(tmp_path_factory.mktemp("downloads")))


def options(**changes) -> dict:
    """The page's option values for :data:`TINY`, with ``changes``."""
    return {**options_from_config(TINY, "original"), **changes}


def is_skip(value) -> bool:
    return value == gr.skip()


# Options → StyleConfig


@pytest.mark.parametrize("defaults", [CPU_DEFAULTS, GPU_DEFAULTS, TINY, StyleConfig(scales=1)])
def test_page_options_map_back_to_the_config_they_show(defaults):
    shown = options_from_config(defaults, "original")
    assert set(shown) == set(OPTION_NAMES)
    limits = {"time_limit": CPU_BOUNDS.max_seconds, "work_limit": CPU_BOUNDS.max_work}
    assert build_config(shown, second_style=False, bounds=CPU_BOUNDS) == defaults.updated(**limits)


def test_multiscale_off_means_a_single_scale():
    assert build_config(options(multiscale=False, scales=4), second_style=False, bounds=CPU_BOUNDS).scales == 1
    assert build_config(options(multiscale=True, scales=4), second_style=False, bounds=CPU_BOUNDS).scales == 4


def test_blend_becomes_style_weights_only_with_a_second_style():
    assert build_config(options(blend=0.25), second_style=True, bounds=CPU_BOUNDS).style_weights == (0.75, 0.25)
    assert build_config(options(blend=0.25), second_style=False, bounds=CPU_BOUNDS).style_weights is None


def test_a_zero_time_limit_means_the_servers_longest():
    assert build_config(options(time_limit=0), second_style=False, bounds=CPU_BOUNDS).time_limit == 300
    assert build_config(options(time_limit=30), second_style=False, bounds=CPU_BOUNDS).time_limit == 30


def test_bounds_depend_on_the_device_and_reach_the_config():
    assert bounds_for(torch.device("cpu")) == CPU_BOUNDS
    assert bounds_for(torch.device("cuda")) == GPU_BOUNDS
    assert CPU_BOUNDS.max_size < 4096 <= GPU_BOUNDS.max_size
    assert CPU_BOUNDS.max_work < GPU_BOUNDS.max_work
    assert build_config(options(), second_style=False, bounds=GPU_BOUNDS).work_limit == GPU_BOUNDS.max_work


def test_whole_numbers_sent_as_floats_are_accepted():
    config = build_config(options(size=96.0, iterations=12.0, seed=3.0), second_style=False, bounds=CPU_BOUNDS)
    assert (config.size, config.iterations, config.seed) == (96, 12, 3)
    assert isinstance(config.size, int)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"size": 10}, "size must be a whole number"),
        ({"size": 96.5}, "size must be a whole number"),
        ({"optimizer": "sgd"}, "optimizer must be one of"),
        ({"tv_weight": -1.0}, "tv_weight must be a number"),
        ({"blend": 1.5}, "blend must be a number from 0 to 1"),
        ({"size": 4096}, "size may be at most 1024 on this server"),
        ({"iterations": 5000}, "iterations may be at most 1000 on this server"),
        ({"coarse_iterations": 1001}, "coarse_iterations may be at most 1000"),
        ({"time_limit": 301}, "time_limit may be at most 300"),
        ({"multiscale": "yes"}, "multiscale must be true or false"),
    ],
)
def test_bad_settings_raise_readable_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        build_config(options(**changes), second_style=True, bounds=CPU_BOUNDS)


def test_defaults_are_smaller_on_a_cpu():
    assert defaults_for(torch.device("cpu")) == CPU_DEFAULTS
    assert defaults_for(torch.device("cuda")) == GPU_DEFAULTS
    assert CPU_DEFAULTS.size < GPU_DEFAULTS.size
    note = layout.defaults_note("cpu")
    assert "CPU" in note and f"{CPU_DEFAULTS.size} px" in note and f"{GPU_DEFAULTS.size} px" in note


def test_the_advanced_panel_has_a_widget_for_every_option_with_the_engines_choices(studio):
    with gr.Blocks():
        widgets = layout.option_widgets(studio)
    assert set(widgets) | {"blend"} == set(OPTION_NAMES)
    engine_choices = {
        "optimizer": {"lbfgs", "adam"},
        "preserve_color": {"none", "luminance", "histogram"},
        "init": {"content", "noise", "style"},
        "pooling": {"max", "avg"},
        "backbone": {"original", "torchvision"},
    }
    for name, values in engine_choices.items():
        assert {value for _, value in widgets[name].choices} == values, name
    for name, widget in widgets.items():
        assert widget.value == options_from_config(TINY, "original")[name], name


# The Stylize callback


def run_to_end(studio: Studio, **changes) -> list[tuple]:
    return list(studio.stylize(CONTENT, STYLE, None, Job(), **options(**changes)))


@pytest.mark.parametrize(
    ("content", "style", "message"),
    [(None, STYLE, "add a content image"), (CONTENT, None, "add a style image")],
)
def test_a_missing_image_is_a_clear_error(studio, content, style, message):
    with pytest.raises(gr.Error, match=message):
        next(studio.stylize(content, style, None, Job(), **options()))
    assert studio.meter.running == 0


def test_an_unreadable_image_is_a_clear_error(studio, tmp_path):
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not a picture")
    with pytest.raises(gr.Error, match="content image is not an image that can be read"):
        next(studio.stylize(str(not_an_image), STYLE, None, Job(), **options()))


def test_bad_settings_are_a_clear_error(studio):
    with pytest.raises(gr.Error, match="size must be a whole number"):
        next(studio.stylize(CONTENT, STYLE, None, Job(), **options(size=8)))


def test_a_run_streams_previews_then_the_final_picture_with_its_downloads(studio):
    before_iterations = studio.meter.iterations
    outputs = run_to_end(studio)
    first, *middle, last = outputs
    # The start clears the previous run's picture, curve and downloads.
    assert first[0] is None and first[1] is None and first[3:] == (None, None, None)
    assert "Starting" in first[2]
    previews = [out[0] for out in middle if isinstance(out[0], Image.Image)]
    assert len(previews) == 4  # iterations 2, 4, 6 and 8 of 9
    assert all(preview.size == (72, 48) for preview in previews)  # coarse ones scaled up to the output size
    assert all("Painting" in out[2] and "CPU" in out[2] for out in middle)
    image, plot, status, png_path, video_path, (before, after) = last
    assert image.size == (72, 48)
    assert status.startswith("**Done**") and "72×48 px" in status and "9 iterations" in status
    assert isinstance(plot, pd.DataFrame) and len(plot) == 3 * 9
    assert set(plot["term"]) == {"total", "style", "content"}
    with Image.open(png_path) as png:
        assert png.format == "PNG" and png.size == (72, 48)
        assert png.convert("RGB").tobytes() == image.tobytes()  # lossless
    assert Path(png_path).name == "coffee-stylized-72x48.png"
    assert decode_video(video_path) == (4 + render.HOLD_FRAMES, (72, 48))  # four previews, then the final one held
    assert before.size == after.size == (72, 48) and after is image
    assert studio.meter.iterations - before_iterations == 9
    assert studio.meter.running == 0


class RecordedPace:
    """Stands in for the studio's :class:`~webapp.fitting.ServedPace`, keeping what it is told."""

    factor = 1.0

    def __init__(self) -> None:
        self.jobs: list[tuple[float, float]] = []

    def record(self, predicted_seconds: float, seconds: float) -> None:
        self.jobs.append((predicted_seconds, seconds))


def test_a_finished_job_teaches_the_served_pace_and_a_stopped_one_does_not(studio, monkeypatch):
    speed = Speed(fixed_seconds=0.01, seconds_per_megapixel=1.0)
    pace = RecordedPace()
    monkeypatch.setattr(studio, "speed", speed)
    monkeypatch.setattr(studio, "pace", pace)
    start = time.monotonic()
    deque(studio.stylize(CONTENT, STYLE, None, Job(), **options()), maxlen=0)
    took = time.monotonic() - start
    plan = scale_plan(load_image(CONTENT, max_side=TINY.size).size, TINY)
    [(predicted, seconds)] = pace.jobs
    assert predicted == pytest.approx(speed.job_seconds(plan, TINY))
    assert 0 < seconds <= took
    run = studio.stylize(CONTENT, STYLE, None, Job(), **options(time_limit=0.001))  # cut short by its time limit
    deque(run, maxlen=0)
    assert len(pace.jobs) == 1


def test_closing_the_generator_stops_the_engine_at_once(studio):
    before = studio.meter.iterations
    job = studio.stylize(CONTENT, STYLE, None, Job(), **options(iterations=500, preview_every=2))
    previews = 0
    while previews < 2:
        previews += isinstance(next(job)[0], Image.Image)
    assert studio.meter.running == 1
    job.close()
    assert studio.meter.running == 0
    assert studio.meter.iterations - before == 4  # the two previews' iterations, nothing after


def test_a_time_limit_ends_the_job_with_a_full_size_picture_and_says_so(studio):
    *_, (image, _, status, png_path, _, _) = run_to_end(studio, time_limit=0.001)
    assert image.size == (72, 48)  # the output size, though the job ended at the coarse scale
    assert "· 1 iteration." in status and "Stopped at the 0.001 s time limit" in status
    assert Path(png_path).exists()


def test_running_out_of_memory_is_a_clear_error(studio, monkeypatch):
    def out_of_memory(*args, **kwargs):
        yield from ()
        raise OutOfMemoryError("Ran out of memory on CPU, fp32 at 4096×4096 pixels. Try a smaller output size.")

    monkeypatch.setattr(studio.stylizer, "stylize", out_of_memory)
    with pytest.raises(gr.Error, match="Try a smaller output size"):
        run_to_end(studio)
    assert studio.meter.running == 0


def test_a_second_style_is_blended_in(studio):
    outputs = list(studio.stylize(CONTENT, STYLE, SECOND_STYLE, Job(), **options(blend=0.5)))
    assert outputs[-1][2].startswith("**Done**")


def test_stop_keeps_the_latest_picture_and_offers_it(studio):
    record = Job()
    job = studio.stylize(CONTENT, STYLE, None, record, **options(iterations=500))
    shown = None
    while shown is None:
        image = next(job)[0]
        shown = image if isinstance(image, Image.Image) else None
    job.close()
    status, png_path, video_path, (before, after) = studio.stop(record)
    assert status.startswith("**Stopped** at iteration 2/503") and "latest picture is kept" in status
    with Image.open(png_path) as png:
        assert render.at_size(png.convert("RGB"), shown.size).tobytes() == shown.tobytes()  # shown scaled up
    assert decode_video(video_path) == (render.HOLD_FRAMES, (72, 48))  # the one preview, held
    assert before.size == after.size == shown.size == (72, 48)
    assert (record.photo, record.latest, record.frames) == (None, None, [])  # the session keeps no picture


def test_a_finished_job_leaves_no_picture_in_its_session(studio):
    record = Job()
    outputs = list(studio.stylize(CONTENT, STYLE, None, record, **options()))
    assert outputs[-1][2].startswith("**Done**") and outputs[-1][5] is not None  # the before/after was shown
    assert record.state is JobState.DONE
    assert (record.photo, record.latest, record.frames) == (None, None, [])


def test_stop_ends_the_run_before_its_next_output_and_has_the_last_word(studio):
    record = Job()
    job = studio.stylize(CONTENT, STYLE, None, record, **options(iterations=500))
    next(job), next(job)  # started, and at least one iteration done
    with ThreadPoolExecutor(1) as pool:
        stopping = pool.submit(studio.stop, record)  # waits for the run to end, as the page does
        wait_until(lambda: record.stop_requested, "Stop to ask the run to end")
        assert list(job) == []  # one more iteration at most, and nothing shown from it
        status, png_path, _, _ = stopping.result(timeout=60)
    assert status.startswith("**Stopped** at iteration") and studio.meter.running == 0
    assert png_path is None or Path(png_path).exists()


def test_stop_before_the_first_iteration_says_so(studio):
    record = Job()
    job = studio.stylize(CONTENT, STYLE, None, record, **options())
    assert "Starting" in next(job)[2]
    job.close()
    assert studio.stop(record) == ("**Stopped** before the first iteration.", None, None, None)


def test_stop_changes_nothing_without_a_run_or_after_a_finished_one(studio):
    record = Job()
    assert all(is_skip(value) for value in studio.stop(record))
    list(studio.stylize(CONTENT, STYLE, None, record, **options()))
    assert all(is_skip(value) for value in studio.stop(record))


def test_an_example_runs_once_at_the_default_settings(studio):
    image, _, status, png_path, video_path, (before, _) = studio.run_example(str(EXAMPLES / "cat.jpg"), STYLE)
    assert image.size == before.size == (72, 48) and status.startswith("**Done**") and Path(png_path).exists()
    assert Path(video_path).suffix == ".mp4"


def test_an_unknown_or_unavailable_backbone_is_a_clear_error(stylizer, tmp_path):
    studio = Studio(stylizer, torchvision_source=str(tmp_path / "missing.safetensors"), defaults=TINY)
    with pytest.raises(gr.Error, match="Unknown backbone"):
        next(studio.stylize(CONTENT, STYLE, None, Job(), **options(backbone="resnet")))
    with pytest.raises(gr.Error, match=r"torchvision.*could not be loaded.*does not exist"):
        next(studio.stylize(CONTENT, STYLE, None, Job(), **options(backbone="torchvision")))


def test_the_weights_come_from_the_environment_variable(monkeypatch, stylizer):
    sources = []

    def fake_stylizer(source, device=None):
        sources.append((source, device))
        return stylizer

    monkeypatch.setattr("webapp.backbones.Stylizer", fake_stylizer)
    assert Studio.from_environment({}).backbones.sources["torchvision"] == "hub"
    assert Studio.from_environment({"STYLETRANSFER_WEIGHTS": "bundled"}, device="cpu").backbones.default == "original"
    assert Studio.from_environment({"STYLETRANSFER_WEIGHTS": "/w/vgg.safetensors"}).backbones.sources == {
        "original": "bundled",
        "torchvision": "/w/vgg.safetensors",
    }
    assert sources == [("auto", None), ("bundled", "cpu"), ("/w/vgg.safetensors", None)]


# Rendering helpers


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00"), (7.4, "0:07"), (83, "1:23"), (3723, "1:02:03"), (math.nan, "…")]
)
def test_clock(seconds, text):
    assert render.clock(seconds) == text


def test_evenly_keeps_the_ends():
    assert render.evenly(list(range(10)), 4) == [0, 3, 6, 9]
    assert render.evenly([1, 2], 4) == [1, 2]


def test_a_long_run_keeps_a_bounded_evenly_spaced_set_of_video_frames(monkeypatch):
    monkeypatch.setattr(render, "VIDEO_PREVIEWS", 4)
    record = Job()
    record.queue(None, Image.new("RGB", (8, 8)))
    for shade in range(10):
        preview = Image.new("RGB", (8, 8), (shade, 0, 0))
        record.add(Progress(shade + 1, 10, 0, 1, (8, 8), {}, 0.0, 0.0, image=preview))
    shades = [frame.getpixel((0, 0))[0] for frame in record.frames]
    assert len(shades) <= 4 and shades[0] == 0 and shades[-1] == 9 and shades == sorted(shades), shades


def test_the_video_is_even_sized_and_at_most_the_video_side():
    assert render.video_size((64, 43)) == (64, 42)
    assert render.video_size((4096, 2731)) == (render.VIDEO_SIDE, 682)


def test_download_names_are_safe():
    assert render.file_stem("/tmp/x/My photo (1).JPG", (10, 20)) == "My-photo-1-stylized-10x20"
    assert render.file_stem(None, (10, 20)) == "picture-stylized-10x20"


# The page


def test_the_style_gallery_offers_paintings_and_each_click_gives_its_file():
    chosen = [
        layout.choose_style(gr.SelectData(None, {"index": index, "value": None}))
        for index in range(len(layout.STYLE_GALLERY))
    ]
    assert all(Path(path).is_file() for path in chosen)
    assert sum("/paintings/" in path for path in chosen) >= 6
    assert all(style.startswith("paintings/") for _, style in layout.EXAMPLE_PAIRS)


# Serving


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        ([], {}, ("127.0.0.1", 7860, False)),
        ([], {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7861"}, ("0.0.0.0", 7861, False)),
        (["--host", "localhost", "--port", "9000"], {"GRADIO_SERVER_NAME": "0.0.0.0"}, ("localhost", 9000, False)),
        (["--share"], {}, ("127.0.0.1", 7860, True)),
        ([], {"GRADIO_SHARE": "1"}, ("127.0.0.1", 7860, True)),
        ([], {"GRADIO_SHARE": "false"}, ("127.0.0.1", 7860, False)),
    ],
)
def test_server_options_take_flags_then_environment_then_defaults(argv, environ, expected):
    options = app.server_options(app.parse_args(argv), environ)
    assert (options["server_name"], options["server_port"], options["share"]) == expected


def test_stylize_video_and_example_runs_share_one_device_queue(studio, monkeypatch, tmp_path):
    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path))
    demo = layout.build_demo(studio, queue_size=3)
    device_fns = [fn for fn in demo.fns.values() if fn.concurrency_id == layout.DEVICE_QUEUE]
    assert sorted(fn.api_name for fn in device_fns) == ["load_example", "stylize", "stylize_video"]
    assert all(fn.concurrency_limit == 1 for fn in device_fns)
    assert demo._queue.max_size == 3
    assert not any(tmp_path.iterdir())  # lazy: nothing is computed at start-up


def test_old_download_files_are_removed_when_new_ones_are_made(tmp_path):
    files = render.OutputFiles(tmp_path, keep_seconds=60)
    first = Path(files.save_png(Image.new("RGB", (16, 16)), "first"))
    an_hour_ago = time.time() - 3600
    os.utime(first.parent, (an_hour_ago, an_hour_ago))
    recent = Path(files.save_png(Image.new("RGB", (16, 16)), "recent"))
    second = Path(files.save_png(Image.new("RGB", (16, 16)), "second"))
    assert not first.exists() and recent.exists() and second.exists()


def test_the_server_cleans_its_cache_and_opens_no_extra_paths(studio, monkeypatch):
    demo = layout.build_demo(studio)
    assert demo.delete_cache is None  # the upload sweeper ages files out, sparing those of queued jobs
    launched = {}
    monkeypatch.setattr(demo, "launch", lambda **options: launched.update(options))
    app.launch(demo, server_name="127.0.0.1", server_port=7860, share=False)
    assert not launched.get("allowed_paths") and launched["state_session_capacity"] == app.SESSIONS_KEPT
    assert launched["max_file_size"] == app.MAX_UPLOAD
