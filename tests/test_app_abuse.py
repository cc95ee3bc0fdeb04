"""What a public link receives, sent to the real app on 127.0.0.1 through ``gradio_client``.

Bad files, out-of-range settings and oversized jobs each get a clear message;
the server keeps working for the next person.
"""

from __future__ import annotations

import contextlib
import re
import urllib.error
import urllib.request

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from tests.app_server import EXAMPLES, HANG_GUARD
from tests.corpus import CASES, SIZE, Case
from webapp.options import CPU_BOUNDS

pytestmark = pytest.mark.slow

COFFEE = EXAMPLES / "coffee.jpg"  # 600×400
STYLE = EXAMPLES / "style_swirls.jpg"
#: One scale at 64 px and a few iterations: a fraction of a second.
SMALL = {"size": SIZE, "multiscale": False, "iterations": 4, "preview_every": 0}


def stylize(client: Client, content=COFFEE, style=STYLE, **settings):
    """One job through the API; its final outputs."""
    return client.predict(
        content=handle_file(str(content)), style=handle_file(str(style)), **{**SMALL, **settings}, api_name="/stylize"
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_awkward_upload_is_refused_clearly_or_handled(client, tmp_path, case: Case):
    path = case.write(tmp_path)
    if case.refusal:
        with pytest.raises(AppError, match=re.escape(case.refusal)) as refused:
            stylize(client, content=path)
        assert "content image" in str(refused.value) or "aspect ratio" in str(refused.value)
    else:
        image, _, status, *_ = stylize(client, content=path)
        assert status.startswith("**Done**")
        with Image.open(image) as picture:
            assert picture.size == case.output
    if case.refused_as_style:
        with pytest.raises(AppError, match=f"style image.*{re.escape(case.refusal)}"):
            stylize(client, style=path)


def test_after_the_whole_corpus_the_server_still_makes_pictures(client, tmp_path):
    for case in CASES:  # all in a row, as the style image (each was the content image in the tests above)
        with contextlib.suppress(AppError):
            stylize(client, style=case.write(tmp_path))
    image, _, status, download, *_ = stylize(client, iterations=10)
    assert status.startswith("**Done**") and "10 iterations" in status
    with Image.open(image) as shown, Image.open(download) as png:
        assert shown.size == png.size == (64, 43)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("size", 4096, "Setting 'size': Value 4096 is greater than maximum value 1024"),
        ("size", 16, "Setting 'size': Value 16 is less than minimum value 32"),
        ("iterations", 5000, "Setting 'iterations': Value 5000 is greater than maximum value 1000"),
        ("iterations", 0, "Setting 'iterations': Value 0 is less than minimum value 1"),
        ("coarse_iterations", -1, "Setting 'coarse_iterations': Value -1 is less than minimum value 0"),
        ("scales", 50, "Setting 'scales': Value 50 is greater than maximum value 6"),
        ("style_strength", 99, "Setting 'style_strength': Value 99 is greater than maximum value 4"),
        ("tv_weight", -3, "Setting 'tv_weight': Value -3 is less than minimum value 0"),
        ("learning_rate", "fast", "Setting 'learning_rate' must be a number; got 'fast'"),
        ("seed", -1, "Setting 'seed': Value -1 is less than minimum value 0"),
        ("seed", [1, 2], r"Setting 'seed' must be a number; got \[1, 2\]"),
        ("blend", 3, "Setting 'blend': Value 3 is greater than maximum value 1"),
        ("time_limit", -5, "Setting 'time_limit': Value -5 is less than minimum value 0"),
        ("time_limit", 3600, "Setting 'time_limit': Value 3600 is greater than maximum value 300"),
        ("preserve_color", "sepia", "Setting 'preserve_color': Value: sepia is not in the list of choices"),
        ("optimizer", "sgd", "Setting 'optimizer': Value: 'sgd' .* is not in the list of choices"),
        ("backbone", "resnet", "Setting 'backbone': Value: resnet is not in the list of choices"),
        ("multiscale", "yes", "multiscale must be true or false"),
    ],
)
def test_out_of_range_settings_are_refused_naming_the_setting(client, studio, setting, value, message):
    begun = studio.meter.jobs_begun
    with pytest.raises(AppError, match=message):
        stylize(client, **{setting: value})
    assert studio.meter.jobs_begun == begun


def test_a_job_over_the_cpu_budget_is_refused_before_it_starts(client, studio):
    """Every setting in range, but together hours of work on two cores."""
    begun = studio.meter.jobs_begun
    big = {"size": CPU_BOUNDS.max_size, "iterations": CPU_BOUNDS.max_iterations, "multiscale": True, "scales": 3}
    with pytest.raises(AppError, match=r"too big for this server: 600×400 px with 1000 iterations.* limit here is 40"):
        stylize(client, **big)
    assert studio.meter.jobs_begun == begun


def test_a_job_past_its_time_limit_ends_with_its_picture_and_says_so(client):
    image, _, status, download, *_ = stylize(client, iterations=CPU_BOUNDS.max_iterations, time_limit=1)
    assert "Stopped at the 1 s time limit" in status
    with Image.open(image) as shown, Image.open(download) as png:
        assert shown.size == png.size == (64, 43)


def test_the_server_serves_no_file_outside_its_own(client):
    for path in ["/etc/passwd", str(EXAMPLES.parent / "app.py")]:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{client.src.rstrip('/')}/gradio_api/file={path}", timeout=HANG_GUARD)
        assert refused.value.code in (403, 404)
