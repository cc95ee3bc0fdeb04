"""Faces kept in portraits (``faces="auto"``): the detector on real pictures, the face mask and its content weights,
and real jobs on the astronaut with and without the setting, judged inside the hand-marked face box."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.face_score import FACE_BOXES, FaceJudge, face_box
from benchmarks.judge import judge_network
from styletransfer import StyleConfig
from styletransfer.cli import build_parser, config_from_args
from styletransfer.faces import Face, face_mask, find_faces
from styletransfer.losses import ContentLoss
from styletransfer.regions import make_regions

from .conftest import EXAMPLES

ASTRONAUT = EXAMPLES / "astronaut.jpg"
WAVE = EXAMPLES / "paintings" / "great_wave_off_kanagawa_hokusai_1831.jpg"


def opened(name: str) -> Image.Image:
    with Image.open(EXAMPLES / name) as image:
        return image.convert("RGB")


@pytest.mark.parametrize("name", ["astronaut.jpg"])
def test_the_detector_finds_the_one_face_where_it_was_marked_by_hand(name):
    photo = opened(name)
    found = find_faces(photo)
    assert len(found) == 1, found
    face = found[0]
    left, top, right, bottom = face_box(FACE_BOXES[name], photo.size)
    assert left < face.left + face.width / 2 < right and top < face.top + face.height / 2 < bottom, (face, left, top)
    assert 0.5 < face.width / (right - left) < 1.5, face


@pytest.mark.parametrize("name", ["style_swirls.jpg", "style_mosaic.jpg", "style_ink.jpg", "coffee.jpg", "rocket.jpg"])
def test_the_detector_finds_no_face_in_generated_textures_nor_in_photos_without_people(name):
    assert find_faces(opened(name)) == []


#: Six threads searching photos of three sizes at once, ten times each; prints how many answers differed from a
#: search made alone.
SEARCHES_AT_ONCE = textwrap.dedent(
    """
    import sys, threading
    from PIL import Image
    from styletransfer.faces import find_faces
    astronaut, coffee = Image.open(sys.argv[1]), Image.open(sys.argv[2])
    photos = [astronaut, coffee.resize((640, 300)), coffee.resize((300, 640))]
    alone = [find_faces(photo) for photo in photos]
    wrong, barrier = [], threading.Barrier(6)
    def search(start):
        barrier.wait()
        for turn in range(10):
            index = (start + turn) % len(photos)
            if find_faces(photos[index]) != alone[index]:
                wrong.append(index)
    threads = [threading.Thread(target=search, args=(start,)) for start in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(len(wrong))
    """
)


def test_searches_in_many_threads_at_once_neither_crash_nor_differ():
    # Two visitors' jobs are checked at once, each looking for faces: without one search at a time, dlib's detector
    # corrupted the heap and the server died (SIGSEGV or SIGABRT).
    photos = [str(ASTRONAUT), str(EXAMPLES / "coffee.jpg")]
    result = subprocess.run([sys.executable, "-c", SEARCHES_AT_ONCE, *photos], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "0"


def test_the_face_mask_is_white_over_the_face_soft_at_its_edge_and_black_away_from_it():
    mask = np.asarray(face_mask((200, 160), [Face(left=80, top=60, width=40, height=40)]))
    assert mask.shape == (160, 200)
    assert mask[80, 100] > 250 and mask[0, 0] == 0 and mask[80, 10] == 0
    soft = ((mask > 10) & (mask < 245)).sum()
    assert soft > 200  # a band of grey around the ellipse, not a hard edge
    assert face_mask((200, 160), []) is None


def test_the_content_counts_strength_times_more_inside_a_face_and_as_before_elsewhere():
    mask = face_mask((200, 200), [Face(left=80, top=80, width=40, height=40)])
    regions = make_regions((200, 200), 1, faces=mask)
    weights = regions.content_weights((100, 100), torch.device("cpu"), 10.0)
    assert weights.shape == (1, 1, 100, 100)
    assert weights[0, 0, 50, 50] == pytest.approx(10.0, abs=0.2) and weights[0, 0, 2, 2] == 1.0
    assert make_regions((200, 200), 1) is None  # no face, no mask: the job is the plain one


def test_a_weighted_content_loss_is_the_sum_of_its_parts_and_weighs_each_cell():
    torch.manual_seed(0)
    target, features = torch.rand(1, 4, 6, 8), torch.rand(1, 4, 6, 8)
    weights = torch.ones(1, 1, 6, 8)
    weights[..., 2:4, 3:5] = 5.0
    plain, weighted = ContentLoss(target), ContentLoss(target, weights)
    extra = 4.0 * (features - target)[..., 2:4, 3:5].pow(2).sum() / target.pow(2).sum()
    assert float(weighted(features)) == pytest.approx(float(plain(features) + extra), rel=1e-5)
    halves = [(slice(0, 3), slice(0, 8)), (slice(3, 6), slice(0, 8))]  # as two tiles' own cells
    parts = sum(float(weighted(features[..., rows, columns], (rows, columns))) for rows, columns in halves)
    assert parts == pytest.approx(float(weighted(features)), rel=1e-5)


def test_the_command_line_takes_the_face_settings():
    args = build_parser().parse_args(["photo.jpg", "painting.jpg", "--faces", "auto", "--face-strength", "5"])
    config = config_from_args(args)
    assert (config.faces, config.face_strength) == ("auto", 5.0)
    with pytest.raises(ValueError, match="faces must be one of off, auto"):
        StyleConfig(faces="on")


@pytest.mark.slow
def test_a_job_with_faces_keeps_the_face_closer_to_the_photo_than_without(stylizer):
    config = StyleConfig(size=144, scales=1, iterations=30, preview_every=0)
    photo = opened("astronaut.jpg")
    without = stylizer.stylize_image(photo, WAVE, config.updated(faces="off"))
    kept = stylizer.stylize_image(photo, WAVE, config.updated(faces="auto"))
    network = judge_network(stylizer.weights, torch.device("cpu"))
    judge = FaceJudge(network, photo, kept.size, FACE_BOXES[ASTRONAUT.name])
    before, after = judge(without), judge(kept)
    assert after.content < 0.8 * before.content, (before, after)
    assert after.structure > before.structure, (before, after)
