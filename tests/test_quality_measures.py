"""The quality suite's measures: the structure score, the judge's texture distance, and the suite end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageOps

from benchmarks import quality
from benchmarks.judge import judge_network
from benchmarks.structure import structure_score as score_with

from .conftest import EXAMPLES, run_in_process

PAINTINGS = EXAMPLES / "paintings"


@pytest.fixture(scope="module")
def network(stylizer):
    return judge_network(stylizer.weights, stylizer.device)


@pytest.fixture(scope="module")
def structure_score(network):
    return lambda picture, photo: score_with(network, picture, photo)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.open(EXAMPLES / "astronaut.jpg").convert("RGB").resize((384, 384))


@pytest.fixture(scope="module")
def painting(photo) -> Image.Image:
    return Image.open(PAINTINGS / "the_scream_munch_1893.jpg").convert("RGB").resize(photo.size)


def painted_texture(image: Image.Image, strength: float, seed: int = 0) -> Image.Image:
    """``image`` under fine, strong, coloured strokes: edges of their own everywhere, the layout kept."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image, dtype=float) / 255
    height, width = pixels.shape[:2]
    strokes = rng.random((height, width // 3, 3)).repeat(3, axis=1)[:, :width]  # short horizontal dabs
    return Image.fromarray(np.uint8(255 * ((1 - strength) * pixels + strength * strokes)))


def test_the_photo_itself_scores_one_and_the_painting_low(photo, painting, structure_score):
    itself = structure_score(photo, photo)
    assert itself.structure == pytest.approx(1, abs=1e-3) and itself.worst_region == pytest.approx(1, abs=1e-3)
    unrelated = structure_score(painting, photo)
    assert unrelated.structure < 0.4, unrelated


def test_painted_texture_does_not_count_as_a_lost_photo(photo, painting, structure_score):
    # Random dabs over a third of the signal: edges everywhere, none of them the photo's.
    textured = structure_score(painted_texture(photo, 0.3), photo)
    assert textured.structure > 0.75, textured
    assert textured.structure > structure_score(painting, photo).structure + 0.4


def test_a_photo_painted_in_other_colours_is_still_the_photo(photo, painting, structure_score):
    recoloured = ImageOps.invert(photo)  # every colour changed, every shape kept
    assert structure_score(recoloured, photo).structure > structure_score(painting, photo).structure + 0.3


def test_an_object_painted_over_one_part_shows_in_the_worst_region(photo, painting, structure_score):
    transplanted = photo.copy()
    transplanted.paste(painting.crop((0, 0, 192, 384)), (0, 0))  # the left half becomes the painting
    whole = structure_score(transplanted, photo)
    assert whole.worst_region < 0.4 < whole.structure, whole
    assert whole.worst_region < structure_score(photo, photo).worst_region - 0.4


def test_the_score_falls_as_the_photo_fades_into_the_painting(photo, painting, structure_score):
    scores = [structure_score(Image.blend(photo, painting, share), photo).structure for share in (0, 0.5, 0.8, 1)]
    assert scores == sorted(scores, reverse=True), scores


@pytest.mark.slow
def test_quick_quality_suite_writes_sheet_figures_and_pictures(tmp_path, capsys):
    # 20 iterations instead of the defaults' 60 at 128 px: this tests the suite's mechanics, not the pictures
    result = run_in_process(quality.main, ["--quick", "--out", str(tmp_path), "--set", "iterations=20"], capsys)
    assert result.code == 0, result.err
    assert "| # | pair | structure | worst region | texture | content |" in result.out
    assert "Settings: size=128 iterations=20" in result.out
    figures = json.loads((tmp_path / "quality.json").read_text())
    assert figures["size"] == 128 and len(figures["pairs"]) == 3
    for entry in figures["pairs"]:
        layers = entry["layers"]
        assert set(layers) == {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"}
        assert entry["texture"] == pytest.approx(np.mean([layers[n] for n in ("relu1_1", "relu2_1", "relu3_1")]))
        assert entry["style"] == pytest.approx(np.mean(list(layers.values())))
        assert 0 <= entry["structure"] <= 1
        with Image.open(tmp_path / entry["picture"]) as picture:
            assert max(picture.size) == 128
        assert entry["pair"] in result.out
    with Image.open(tmp_path / "contact_sheet.png") as sheet:
        assert sheet.height > 3 * 216  # a row per pair


def test_suite_refuses_pair_numbers_it_does_not_have(capsys):
    result = run_in_process(quality.main, ["--pairs", "0", "16"], capsys)
    assert result.code == 2
    assert "pairs are numbered 1 to 15" in result.err
