"""The command line, end to end on real files, in a subprocess as a user runs it (two refusals in this process)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch
from PIL import Image

from styletransfer import Stylizer
from styletransfer.cli import main
from styletransfer.engine import Evaluation

from .conftest import EXAMPLES, ROOT, run_in_process

TINY = ["--size", "96", "--min-size", "48", "--scales", "2", "--iterations", "8", "--coarse-iterations", "8"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "styletransfer", *args, "--weights", "bundled", "--device", "cpu"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_writes_the_stylized_picture(tmp_path):
    output = tmp_path / "out.png"
    result = run_cli(
        str(EXAMPLES / "cat.jpg"), str(EXAMPLES / "style_ink.jpg"), "-o", str(output), *TINY, "--preview-every", "4"
    )
    assert result.returncode == 0, result.stderr
    picture = Image.open(output)
    assert picture.format == "PNG" and picture.size == (96, 64)  # cat.jpg is 451×300
    assert (tmp_path / "out.preview.png").exists()
    assert "stylizing" in result.stderr and "style" in result.stderr  # the progress bar with losses
    assert f"saved {output}" in result.stderr


def test_cli_blends_two_styles(tmp_path):
    output = tmp_path / "blend.png"
    result = run_cli(
        str(EXAMPLES / "coffee.jpg"),
        str(EXAMPLES / "style_ink.jpg"),
        str(EXAMPLES / "style_mosaic.jpg"),
        "--style-weights",
        "2",
        "1",
        "--preserve-color",
        "histogram",
        "-o",
        str(output),
        *TINY,
    )
    assert result.returncode == 0, result.stderr
    assert Image.open(output).size == (96, 64)


def test_cli_rejects_a_file_that_is_not_an_image(tmp_path):
    pdf = tmp_path / "holiday.jpg"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n")
    result = run_cli(str(pdf), str(EXAMPLES / "style_ink.jpg"), "-o", str(tmp_path / "x.png"), *TINY)
    assert result.returncode == 2
    assert "error: The content image is not an image" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.png").exists()


def run_cli_in_process(capsys, *args: str) -> tuple[int, str]:
    """The command line's exit code and standard error, run in this process (no interpreter to start)."""
    ran = run_in_process(main, [*args, "--weights", "bundled", "--device", "cpu"], capsys)
    return ran.code, ran.err


def test_cli_rejects_a_missing_file_and_bad_settings(tmp_path, capsys):
    missing = run_cli(str(tmp_path / "nope.jpg"), str(EXAMPLES / "style_ink.jpg"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    code, error = run_cli_in_process(capsys, str(EXAMPLES / "cat.jpg"), str(EXAMPLES / "style_ink.jpg"), "--size", "8")
    assert code == 2 and "size must be a whole number from 32" in error
    code, error = run_cli_in_process(
        capsys, str(EXAMPLES / "cat.jpg"), str(EXAMPLES / "style_ink.jpg"), "--style-weights", "1", "2"
    )
    assert code == 2 and "1 style images but 2 style weights" in error


def test_cli_paints_only_inside_the_mask(tmp_path):
    """A mask file for the left half: the left half is painted, the right stays close to the photo."""
    with Image.open(EXAMPLES / "cat.jpg") as cat:
        width, height = cat.size
    mask = Image.new("L", (width, height), 0)
    mask.paste(255, (0, 0, width // 2, height))
    mask.save(tmp_path / "left.png")
    output = tmp_path / "out.png"
    done = run_cli(
        str(EXAMPLES / "cat.jpg"), str(EXAMPLES / "style_ink.jpg"), "-o", str(output), *TINY,
        "--mask", str(tmp_path / "left.png"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Image.open(output) as picture, Image.open(EXAMPLES / "cat.jpg") as cat:
        photo = np.asarray(cat.convert("RGB").resize(picture.size, Image.Resampling.LANCZOS), np.float32)
        painted = np.asarray(picture.convert("RGB"), np.float32)
    margin = picture.width // 8
    inside = np.abs(painted - photo)[:, : picture.width // 2 - margin].mean()
    outside = np.abs(painted - photo)[:, picture.width // 2 + margin :].mean()
    assert outside < 8.0 and inside > 3 * outside, (inside, outside)
    too_many = run_cli(
        str(EXAMPLES / "cat.jpg"), str(EXAMPLES / "style_ink.jpg"), *TINY,
        "--mask", str(tmp_path / "left.png"), "--mask", str(tmp_path / "left.png"), "-o", str(tmp_path / "x.png"),
    )  # fmt: skip
    assert too_many.returncode == 2 and "2 masks but 1 style image" in too_many.stderr


def test_cli_running_out_of_memory_is_a_one_line_message(monkeypatch, capsys, tmp_path):
    def out_of_memory(self, image):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Evaluation, "__call__", out_of_memory)
    output = tmp_path / "out.png"
    code, error = run_cli_in_process(capsys, str(EXAMPLES / "cat.jpg"), str(EXAMPLES / "style_ink.jpg"), "-o",
                                     str(output), *TINY)  # fmt: skip
    assert code == 1
    assert error.strip().splitlines()[-1] == (
        "error: Ran out of memory on CPU, fp32 at 96×64 pixels. Try a smaller output size."
    ).replace("fp32", Stylizer("bundled", device="cpu").precision)
    assert "Traceback" not in error and not output.exists()
