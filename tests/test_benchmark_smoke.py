"""The benchmark's quick mode runs end to end, as CI runs it; no timing is asserted."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from PIL import Image

from benchmarks import balance, jumps
from benchmarks.judge import Target
from benchmarks.objective import ObjectiveMeter
from benchmarks.reference import REFERENCES
from benchmarks.report import cpu_kind
from benchmarks.run import QUICK
from benchmarks.run import main as benchmark_main
from styletransfer import StyleConfig, Stylizer

from .conftest import EXAMPLES, run_in_process


def _run(main: Callable[[list[str]], int], capsys, *args: str) -> str:
    """A command's ``main`` with ``args``, run in this process; its standard output, once it has succeeded."""
    ran = run_in_process(main, args, capsys)
    assert ran.code == 0, ran.err
    return ran.out


def _tables(stdout: str) -> list[list[dict[str, str]]]:
    """Every markdown table printed, in order, as rows of cells by their column's header."""
    tables, lines = [], [*stdout.splitlines(), ""]
    block: list[list[str]] = []
    for line in lines:
        if line.startswith("| "):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif block:
            header, _, *rows = block  # the header, the rule, the body
            tables.append([dict(zip(header, row, strict=True)) for row in rows])
            block = []
    return tables


def _seconds(cell: str) -> float | None:
    """The seconds of a "12.3 (of 3)" cell; ``None`` for "not reached (of 3)"."""
    return None if cell.startswith("not reached") else float(cell.split()[0])


def _ratio(cell: str) -> float | None:
    return None if cell == "n/a" else float(cell.removesuffix("×"))


def _assert_ratios_consistent(row: dict[str, str], ours_whole_job: float) -> None:
    """The ratio columns of a reference's row follow from its seconds and ours."""
    reference = float(row["reference (s)"])
    reached = _seconds(row["ours to ref quality (s, median)"])
    if reached is None:
        assert row["ratio"] == "n/a"
    else:
        _assert_rounded_ratio(row["ratio"], reference / reached)
    _assert_rounded_ratio(row["whole-job ratio"], reference / ours_whole_job)


def _assert_headline_consistent(row: dict[str, str], ours_whole_job: float) -> None:
    """The headline's ratio follows from the reference's time to our objective (or its whole run, read "> N×")."""
    reached = row["ref at ours' objective (s)"]
    if reached == "never":
        assert row["headline ratio"].startswith("> ")
        _assert_rounded_ratio(row["headline ratio"].removeprefix("> "), float(row["ref run (s)"]) / ours_whole_job)
    else:
        _assert_rounded_ratio(row["headline ratio"], float(reached) / ours_whole_job)
    assert float(row["ours final objective (median)"]) > 0


def _assert_rounded_ratio(cell: str, expected: float) -> None:
    """A ratio printed to 0.1, of two times printed to 3 significant figures (each off by up to 0.5 %)."""
    assert abs(_ratio(cell) - expected) <= 0.05 + 0.01 * expected, (cell, expected)


@pytest.mark.slow
def test_quick_benchmark_prints_the_tables_and_writes_results(tmp_path, capsys):
    stdout = _run(benchmark_main, capsys, "--quick", "--out", str(tmp_path), "--set", "iterations=20")
    assert re.search(r"^Machine: .*cpu_kind: ", stdout, re.MULTILINE)
    assert "The headline: our default job against the same-objective reference" in stdout
    assert "against the balanced reference (content weight 5, style weight 100), to its judged quality:" in stdout
    assert "against the tutorial reference (content weight 1, style weight 1e+06):" in stdout
    (headline,), (balanced,), (tutorial,), layers, (throughput,) = _tables(stdout)
    assert {"ref texture", "ref content", "ours final texture", "ours structure", "ours worst region"} <= set(balanced)
    assert "ref style" in tutorial and "ref texture" not in tutorial
    ours_whole_job = float(balanced["ours whole job (s, median)"])
    assert float(headline["ours whole job (s, median)"]) == ours_whole_job
    _assert_ratios_consistent(balanced, ours_whole_job)
    _assert_ratios_consistent(tutorial, ours_whole_job)
    _assert_headline_consistent(headline, ours_whole_job)
    pictures = ["tutorial reference", "balanced reference", "same_objective reference", "ours (median of 1)"]
    assert [row["picture"] for row in layers] == pictures
    assert layers[3]["style (mean)"] == balanced["ours final style"]
    assert layers[3]["texture"] == balanced["ours final texture"]
    assert layers[1]["texture"] == balanced["ref texture"]
    assert layers[0]["style (mean)"] == tutorial["ref style"]
    assert headline["ours texture / content / structure"].split(" / ")[0] == balanced["ours final texture"]
    assert headline["ref texture / content / structure"].split(" / ")[0] == layers[2]["texture"]
    assert {"ours iterations at tutorial quality", "ours iterations at balanced quality"} <= set(throughput)

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["machine"]["cpu_kind"]
    assert results["engine_config"]["iterations"] == 20
    (entry,) = results["results"]
    assert entry["headline"] == "same_objective"
    assert list(entry["references"]) == ["tutorial", "balanced", "same_objective"]
    assert entry["references"]["same_objective"]["loss_weights"] is None
    race = entry["objective"]
    assert len(race["reference_snapshots"]) == QUICK["evaluations"] + 1  # every evaluation's start, and the end
    assert race["headline_ratio"] * entry["ours"]["seconds_median"] == pytest.approx(
        race["reference_at_ours"] or entry["references"]["same_objective"]["seconds"]
    )
    for name, reference in entry["references"].items():
        assert reference["evaluations"] == QUICK["evaluations"]
        if name in REFERENCES:
            assert reference["loss_weights"] == {"content": REFERENCES[name].content, "style": REFERENCES[name].style}
        assert set(reference["final"]["layers"]) == {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"}
        assert entry["ours"]["whole_job_ratio"][name] == pytest.approx(
            reference["seconds"] / entry["ours"]["seconds_median"]
        )
    assert entry["references"]["balanced"]["target"]["style_measure"] == "texture"
    assert entry["references"]["tutorial"]["target"]["style_measure"] == "style"
    assert f"{entry['references']['balanced']['target']['style']:.4g}" == balanced["ref texture"]
    (run,) = entry["ours"]["runs"]
    assert set(run["time_to_quality"]) == {"tutorial", "balanced", "same_objective"}
    assert set(entry["files"]) == {
        "plot",
        "tutorial_reference_image",
        "balanced_reference_image",
        "same_objective_reference_image",
        "ours_image",
    }
    for name in entry["files"].values():
        with Image.open(tmp_path / name) as picture:
            picture.verify()


def _balance_rows(stdout: str) -> dict[str, dict[str, str]]:
    """The balance table's rows by variant."""
    (table,) = _tables(stdout)
    return {row["variant"]: row for row in table}


@pytest.mark.slow
def test_balance_judges_each_variant_against_the_first(capsys, tmp_path):
    stdout = _run(
        balance.main, capsys, "--size", "128", "--target", "1,10", "--out", str(tmp_path),
        "--variant", "short", "iterations=3",
        "--variant", "long", "iterations=30", "style_strength=2",
    )  # fmt: skip
    assert "Reference quality (balanced): texture ≤ 1 and content ≤ 10." in stdout
    rows = _balance_rows(stdout)
    assert set(rows) == {"short", "long"}
    short, long = rows["short"], rows["long"]
    assert (short["settings"], long["settings"]) == ("iterations=3", "iterations=30 style_strength=2")
    assert (short["iterations"], long["iterations"]) == ("3", "30")
    assert short["both ≤ first's"] == "yes"  # the baseline is as good as itself
    assert float(long["final texture"]) < float(short["final texture"])  # a strong style weight moved it to the style
    as_good = all(float(long[column]) <= float(short[column]) for column in ("final texture", "final content"))
    assert long["both ≤ first's"] == ("yes" if as_good else "no")
    for row in (short, long):
        assert row["reference quality at"].startswith("iteration ")  # a loose target is reached
        assert 0 <= float(row["structure"]) <= 1 and 0 <= float(row["worst region"]) <= 1
    for name in rows:  # each final picture, to look at
        with Image.open(tmp_path / f"{name}.png") as picture:
            assert (picture.format, picture.size) == ("PNG", (128, 85))


@pytest.mark.slow
def test_balance_runs_the_balanced_reference_without_a_target(capsys):
    stdout = _run(balance.main, capsys, "--size", "128", "--evaluations", "4", "--variant", "only", "iterations=3")
    assert re.search(r"Reference quality \(balanced\): texture ≤ [\d.e-]+ and content ≤ [\d.e-]+\.", stdout)
    assert set(_balance_rows(stdout)) == {"only"}


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
    assert "expected TEXTURE,CONTENT" in capsys.readouterr().err


def test_balance_target_is_the_balanced_criterion():
    args = balance.parse_args(["--variant", "today", "--target", "0.02,0.8"])
    assert args.target == Target("balanced", "texture", 0.02, 0.8)


@pytest.mark.parametrize(
    ("flags", "kind"),
    [
        ({"avx2", "avx512f", "avx512_bf16"}, "AVX512-BF16 without AMX"),
        ({"avx2", "amx_bf16", "amx_tile"}, "AVX512-BF16/AMX"),
        ({"sse4_2", "avx2", "fma"}, "AVX2 only"),
        ({"neon"}, "Some ARM core"),
    ],
)
def test_cpu_kind_names_the_bf16_class(flags, kind):
    assert cpu_kind(flags, "Some ARM core") == kind


def test_largest_jump_is_the_most_a_loss_rose_above_the_lowest_before_it():
    assert jumps.largest_jump([5.0, 4.0, 2.0, 1.0]) == 1.0
    assert jumps.largest_jump([80.0, 2.0, 300.0, 1.0, 3.0]) == 150.0


@pytest.mark.slow
def test_jumps_runs_the_coarsest_scale_of_a_suite_pair(capsys):
    stdout = _run(jumps.main, capsys, "--pairs", "5", "--size", "64", "--iterations", "4", "--set", "tv_weight=1")
    assert "64 px, 4 L-BFGS steps, settings: tv_weight=1" in stdout
    (table,) = _tables(stdout)
    (row,) = table
    assert row["pair"] == "cat x starry_night_over_the_rhone_van_gogh_1888"
    first, lowest, final = (float(row[column]) for column in ("first loss", "lowest loss", "final loss"))
    assert lowest < first and lowest <= final  # four steps lowered the loss from where it started
    assert float(row["largest jump"]) >= 1.0


def test_the_objective_meter_scores_a_finished_picture_below_the_photo(stylizer):
    """The headline's criterion: our job's own objective, in fp32, falls from the photo (where the style term is
    large) to the finished picture, and refuses a picture of another size."""
    photo = Image.open(EXAMPLES / "cat.jpg").convert("RGB")
    style = Image.open(EXAMPLES / "style_swirls.jpg").convert("RGB")
    config = StyleConfig(size=96, min_size=48, scales=2, iterations=15, coarse_iterations=15, preview_every=0)
    meter = ObjectiveMeter(Stylizer(stylizer.weights, device="cpu", precision="fp32"), photo, style, config)
    picture = stylizer.stylize_image(photo, style, config)
    assert picture.size == meter.size
    assert meter(picture) < meter(photo.resize(meter.size, Image.Resampling.LANCZOS)) / 5
    with pytest.raises(ValueError, match="set up for"):
        meter(photo)
