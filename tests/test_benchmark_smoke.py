"""The benchmark's quick mode runs end to end, as CI runs it; no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

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
