"""The benchmark's quick mode runs end to end, as CI runs it; no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

from benchmarks import balance

from .conftest import ROOT


@pytest.mark.slow
def test_quick_benchmark_prints_the_table_and_writes_results(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    assert "| size | pair | reference (s) |" in result.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results["results"]) == 1
    entry = results["results"][0]
    assert entry["reference"]["evaluations"] == 60
    for name in entry["files"].values():
        with Image.open(tmp_path / name) as picture:
            picture.verify()


def _table_rows(stdout: str) -> dict[str, list[str]]:
    """The markdown table's body rows by their first cell."""
    lines = [line for line in stdout.splitlines() if line.startswith("| ")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]  # after header and rule
    return {cells[0]: cells for cells in rows}


@pytest.mark.slow
def test_balance_judges_each_variant_against_the_first():
    result = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.balance", "--size", "128", "--target", "1,10",
            "--variant", "short", "iterations=3",
            "--variant", "long", "iterations=30", "style_strength=2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = _table_rows(result.stdout)
    assert set(rows) == {"short", "long"}
    short, long = rows["short"], rows["long"]
    assert (short[1], long[1]) == ("iterations=3", "iterations=30 style_strength=2")
    assert (short[2], long[2]) == ("3", "30")
    assert short[7] == "yes"  # the baseline is as good as itself
    short_style, short_content, long_style, long_content = (float(v) for v in (short[5], short[6], long[5], long[6]))
    assert long_style < short_style  # 30 iterations at a strong style weight moved the picture toward the style
    assert long[7] == ("yes" if long_style <= short_style and long_content <= short_content else "no")
    assert short[4].startswith("iteration ") and long[4].startswith("iteration ")  # a loose target is reached


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        (["style_strength=1"], "A variant starts with its name; got 'style_strength=1'."),
        (["bigger", "size=1024"], "The size is not a setting here"),
        (["odd", "strength"], "A setting is key=value; got 'strength'."),
        (["typo", "itterations=5"], "Unknown setting(s): itterations."),
    ],
)
def test_balance_refuses_a_bad_variant(variant, message, capsys):
    with pytest.raises(SystemExit) as stop:
        balance.parse_args(["--variant", *variant])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_balance_refuses_a_malformed_target(capsys):
    with pytest.raises(SystemExit):
        balance.parse_args(["--variant", "today", "--target", "0.02"])
    assert "expected STYLE,CONTENT" in capsys.readouterr().err
