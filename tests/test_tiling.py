"""Tiled evaluation: the same loss and gradient as the whole picture's, in a fraction of the memory.

Real weights (the bundled original VGG19) and real photos and paintings, on the CPU.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from styletransfer import StyleConfig, Stylizer, cli, images
from styletransfer.config import CONTENT_LAYERS, STYLE_LAYERS
from styletransfer.engine import Evaluation, _make_step
from styletransfer.losses import Objective, StyleRegion, style_statistics
from styletransfer.memory import MAX_HISTORY, MIN_HISTORY, parse_memory, plan_scale
from styletransfer.tiling import cut, margin_for

from .conftest import EXAMPLES, ROOT, run_in_process

pytestmark = pytest.mark.slow

LAYERS = CONTENT_LAYERS + STYLE_LAYERS
SCREAM = EXAMPLES / "paintings" / "the_scream_munch_1893.jpg"
STARRY = EXAMPLES / "paintings" / "starry_night_van_gogh_1889.jpg"


def picture(path, long_side: int) -> torch.Tensor:
    return images.to_tensor(images.load_image(path, max_side=long_side))


def objective_for(stylizer, content, *, weights=(1.0, 100.0, 5.0), kind="gram", halves=False) -> Objective:
    """An objective as the engine builds one: the photo's relu4_2 and the paintings' statistics; with ``halves``,
    the Scream paints the left half and the Starry Night the right, guided."""
    net = stylizer.network(LAYERS, "max")
    with torch.no_grad():
        targets = net(content)
        scream, starry = (net(picture(path, 256)) for path in (SCREAM, STARRY))
    statistics = [{name: style_statistics(f[name], kind) for name in STYLE_LAYERS} for f in (scream, starry)]
    if halves:
        left = torch.zeros(1, 1, *content.shape[-2:])
        left[..., : content.shape[-1] // 2] = 1.0
        regions = [StyleRegion(statistics[0], 0.5, left), StyleRegion(statistics[1], 0.5, 1.0 - left)]
    else:
        regions = [StyleRegion(statistics[0])]
    content_weight, style_weight, tv_weight = weights
    return Objective(
        {name: targets[name] for name in CONTENT_LAYERS},
        regions,
        content_weight,
        style_weight,
        tv_weight,
        style_loss=kind,
        style_layer_weights=StyleConfig().layer_weights,
    )


def gradients(stylizer, objective, image, tiles):
    """The terms and the gradient of one evaluation, whole (``tiles=None``) or tiled."""
    image = image.clone().requires_grad_(True)
    terms = Evaluation(stylizer.network(LAYERS, "max"), objective, tiles)(image)
    return terms, image.grad


@pytest.fixture(scope="module")
def stylizer() -> Stylizer:
    """The bundled weights in fp32 on every CPU (bf16, where the CPU has it, rounds each window differently)."""
    return Stylizer("bundled", device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """The coffee photo at 256 px long side (256×171)."""
    return picture(EXAMPLES / "coffee.jpg", 256)


@pytest.fixture(scope="module")
def midway(photo) -> torch.Tensor:
    """The photo with noise, like a picture mid-optimisation."""
    generator = torch.Generator().manual_seed(0)
    return (photo + 0.05 * torch.randn(photo.shape, generator=generator)).clamp(0, 1)


@pytest.mark.parametrize(
    ("term", "weights", "halves"),
    [
        ("content", (1.0, 0.0, 0.0), False),
        ("style", (0.0, 100.0, 0.0), False),
        ("style", (0.0, 100.0, 0.0), True),
        ("tv", (0.0, 0.0, 5.0), False),
        ("total", (1.0, 100.0, 5.0), True),
    ],
)
def test_a_tiled_gradient_equals_the_whole_pictures(stylizer, photo, midway, term, weights, halves):
    """At 256 px with 96 px tiles, each loss term (the style term also guided by two regions) and its gradient
    match the untiled evaluation to 1e-4."""
    objective = objective_for(stylizer, photo, weights=weights, halves=halves)
    tiles = cut(tuple(photo.shape[-2:]), 96, LAYERS)
    assert len(tiles) == 6 and margin_for(LAYERS) == 80
    whole_terms, whole = gradients(stylizer, objective, midway, None)
    tiled_terms, tiled = gradients(stylizer, objective, midway, tiles)
    assert whole.abs().max() > 0
    assert ((tiled - whole).norm() / whole.norm()).item() <= 1e-4
    for name in ("total", "content", "style", "tv"):
        assert tiled_terms[name].item() == pytest.approx(whole_terms[name].item(), rel=1e-4, abs=1e-9), name
    assert whole_terms[term].item() > 0


def test_the_wasserstein_loss_tiles_too(stylizer, photo, midway):
    """The mean-and-covariance loss's gradient matches to 1e-2 only: its eigenvalues' square roots, where the
    deep layers' covariances are rank-deficient at 256 px, magnify fp32 rounding of any summation order."""
    objective = objective_for(stylizer, photo, weights=(0.0, 100.0, 0.0), kind="wasserstein")
    whole_terms, whole = gradients(stylizer, objective, midway, None)
    tiled_terms, tiled = gradients(stylizer, objective, midway, cut(tuple(photo.shape[-2:]), 96, LAYERS))
    assert ((tiled - whole).norm() / whole.norm()).item() <= 1e-2
    assert tiled_terms["style"].item() == pytest.approx(whole_terms["style"].item(), rel=1e-3)


def test_ten_tiled_iterations_make_the_same_picture(stylizer):
    """L-BFGS on tiled evaluations makes the same picture as on whole ones, within float tolerance: after 10
    iterations at 192 px in four tiles, the two differ no more than two whole runs whose starts differ by 1e-6
    (L-BFGS magnifies any rounding), while the picture itself moved far more."""
    photo = picture(EXAMPLES / "coffee.jpg", 192)
    start = (photo + 0.05 * torch.randn(photo.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    objective = objective_for(stylizer, photo)
    net = stylizer.network(LAYERS, "max")
    nudge = 1e-6 * torch.randn(photo.shape, generator=torch.Generator().manual_seed(1))
    tiles = cut(tuple(photo.shape[-2:]), 96, LAYERS)
    assert len(tiles) == 4
    results = []
    for begin, tiling in [(start, None), (start + nudge, None), (start, tiles)]:
        image = begin.clone().requires_grad_(True)
        step = _make_step(image, Evaluation(net, objective, tiling), StyleConfig(), MAX_HISTORY)
        for _ in range(10):
            step()
        results.append(image.detach().clamp(0, 1))
    whole, nudged, tiled = results
    rounding = (nudged - whole).abs().mean().item()
    tiling_change = (tiled - whole).abs().mean().item()
    moved = (whole - start).abs().mean().item()
    print(f"mean change: picture {moved:.4f}, nudged start {rounding:.5f}, tiled {tiling_change:.5f}")
    assert tiling_change <= 2 * rounding and tiling_change < moved / 10


PEAK_OF_ONE_EVALUATION = """
import json
import torch
from benchmarks.measure import PeakMemory
from styletransfer import images
from styletransfer.tiling import cut
from tests.test_tiling import EXAMPLES, LAYERS, Stylizer, gradients, objective_for

stylizer = Stylizer("bundled", device="cpu", precision="fp32")
photo = images.to_tensor(images.resize_long_side(images.load_image(EXAMPLES / "coffee.jpg"), 768))
objective = objective_for(stylizer, photo)
tiles = cut(tuple(photo.shape[-2:]), {core}, LAYERS) if {core} else None
with PeakMemory(torch.device("cpu")) as peak:
    before = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
    gradients(stylizer, objective, photo, tiles)
print(json.dumps({{"tiles": len(tiles or [0]), "peak_mib": peak.mib - before}}))
"""


def peak_of_one_evaluation(core: int) -> dict:
    """The resident memory one evaluation at 768×512 adds, in a fresh process (``core`` 0: untiled)."""
    result = subprocess.run(
        [sys.executable, "-c", PEAK_OF_ONE_EVALUATION.format(core=core)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_tiled_evaluation_takes_a_fraction_of_the_memory():
    """At 768×512, the peak resident memory one evaluation adds (each in a fresh process): with 256 px tiles, under
    0.6× the whole picture's. (Measured at 1024×768: 1857 MiB whole, 559 MiB with 256 px tiles.)"""
    whole, tiled = peak_of_one_evaluation(0), peak_of_one_evaluation(256)
    print(
        f"768×512, one evaluation: whole {whole['peak_mib']:.0f} MiB; "
        f"{tiled['tiles']} tiles {tiled['peak_mib']:.0f} MiB"
    )
    assert whole["tiles"] == 1 and tiled["tiles"] == 6
    assert tiled["peak_mib"] < 0.6 * whole["peak_mib"]


def test_the_plan_tiles_only_when_the_memory_would_not_hold_the_whole_picture():
    """With room, the whole picture and the full history; a little less, a shorter history first; below the
    whole picture's need, tiles that fit, more of them the less there is; too little, a clear refusal."""
    roomy = plan_scale((768, 576), LAYERS, 2**40)
    assert not roomy.tiled and roomy.tiles == 1 and roomy.history == MAX_HISTORY
    snug = plan_scale((768, 576), LAYERS, roomy.untiled - 1)
    assert not snug.tiled and snug.history < MAX_HISTORY and snug.needed <= roomy.untiled - 1
    for share in (0.6, 0.4):
        budget = int(share * roomy.untiled)
        limited = plan_scale((768, 576), LAYERS, budget)
        assert limited.tiled and limited.tiles > 1 and limited.needed <= budget < limited.untiled
    assert (
        plan_scale((768, 576), LAYERS, int(0.4 * roomy.untiled)).tiles
        > plan_scale((768, 576), LAYERS, int(0.6 * roomy.untiled)).tiles
    )
    with pytest.raises(ValueError, match=r"768×576 px needs at least .* of memory even in tiles; there is 64 MB"):
        plan_scale((768, 576), LAYERS, 64 * 2**20)


def test_the_optimiser_history_shrinks_at_print_sizes():
    """L-BFGS's 50 steps at 4096×3072 would take 15 GB: within 16 GB the plan keeps fewer, and tiles."""
    plan = plan_scale((4096, 3072), LAYERS, parse_memory("16GB"))
    assert MIN_HISTORY <= plan.history < MAX_HISTORY and plan.tiled
    assert plan.needed <= parse_memory("16GB") < plan.untiled


def test_memory_sizes_read_as_people_write_them():
    assert parse_memory("2GB") == 2 * 2**30 and parse_memory("512MB") == 512 * 2**20
    assert parse_memory("1.5 GiB") == 3 * 2**29 and parse_memory("800000000") == 800_000_000
    with pytest.raises(ValueError, match="looks like 2GB"):
        parse_memory("two gigs")


@pytest.fixture(scope="module")
def large_photo(tmp_path_factory) -> Path:
    """The rocket photo enlarged to 1024×683, as a file: the output is never larger than the photo."""
    path = tmp_path_factory.mktemp("photos") / "rocket_1024.png"
    with Image.open(EXAMPLES / "rocket.jpg") as rocket:
        images.resize_long_side(rocket.convert("RGB"), 1024).save(path)
    return path


def test_the_cli_paints_a_768_px_picture_in_tiles_within_a_memory_limit(tmp_path, large_photo, capsys):
    """End to end at 768 px, with a limit below the whole picture's need: the progress says it is tiled, and the
    picture is a full-size PNG."""
    output = tmp_path / "print.png"
    result = run_in_process(
        cli.main,
        [
            str(large_photo), str(SCREAM), "-o", str(output),
            "--size", "768", "--scales", "1", "--iterations", "1", "--max-memory", "1.2GB", "--weights", "bundled",
        ],
        capsys,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "768×512 in 4 tiles" in result.err
    with Image.open(output) as painted:
        assert painted.format == "PNG" and painted.size == (768, 512)


def test_a_memory_limit_too_small_for_any_tile_is_a_clear_error(tmp_path, large_photo, capsys):
    result = run_in_process(
        cli.main,
        [
            str(large_photo), str(SCREAM), "-o",
            str(tmp_path / "x.png"), "--size", "1024", "--scales", "1", "--max-memory", "100MB", "--weights", "bundled",
        ],
        capsys,
    )  # fmt: skip
    assert result.code == 2
    assert "needs at least" in result.err and "Traceback" not in result.err
    bad = run_in_process(cli.main, ["a.jpg", "b.jpg", "--max-memory", "lots"], capsys)
    assert bad.code == 2 and "looks like 2GB" in bad.err
