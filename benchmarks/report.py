"""The results as markdown tables (for people and the README) and as JSON (for machines)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import asdict
from operator import attrgetter
from pathlib import Path

import torch

from styletransfer import Stylizer

from .compare import HEADLINE, STYLE_MEASURES, Comparison, JudgedReference
from .judge import STYLE_LAYERS, Distances
from .ours import OursRun


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _count(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}×"


def _distance(value: float) -> str:
    return f"{value:.4g}"


def _size(comparison: Comparison) -> str:
    width, height = comparison.size
    return f"{width}×{height}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table of ``rows`` under ``header``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _configuration_table(
    comparisons: list[Comparison], header: list[str], cells: Callable[[Comparison], list[str]]
) -> str:
    """A table with one row per configuration: its size and pair, then ``cells``."""
    return markdown_table(["size", "pair", *header], [[_size(c), c.pair, *cells(c)] for c in comparisons])


def _ours_final(comparison: Comparison, measure: Callable[[Distances], float]) -> float:
    """The median over our runs of ``measure`` of the final picture's verdict."""
    return statistics.median(measure(run.final.distances) for run in comparison.ours)


def _reference_header(reference: str) -> list[str]:
    return [
        "reference (s)",
        f"ref {STYLE_MEASURES[reference]}",
        "ref content",
        "ref structure",
        "ours to ref quality (s, median)",
        "ratio",
        "whole-job ratio",
        "ref peak MiB",
    ]


def _reference_cells(comparison: Comparison, reference: str) -> list[str]:
    judged = comparison.references[reference]
    target = judged.target
    reached = comparison.time_to_quality(reference)
    runs = len(comparison.ours)
    return [
        _seconds(judged.run.seconds),
        _distance(target.style),
        _distance(target.content),
        f"{judged.final.structure:.3f}",
        f"{reached:.3g} (of {runs})" if reached is not None else f"not reached (of {runs})",
        _ratio(comparison.ratio(reference)),
        _ratio(comparison.whole_job_ratio(reference)),
        _mib(judged.peak_mib),
    ]


OURS_HEADER = [
    "ours whole job (s, median)",
    "ours final style",
    "ours final texture",
    "ours final content",
    "ours structure",
    "ours worst region",
    "first preview (s)",
    "ours peak MiB",
]


def _ours_cells(comparison: Comparison) -> list[str]:
    return [
        _seconds(comparison.ours_seconds),
        _distance(_ours_final(comparison, attrgetter("style"))),
        _distance(_ours_final(comparison, attrgetter("texture"))),
        _distance(_ours_final(comparison, attrgetter("content"))),
        f"{_ours_final(comparison, attrgetter('structure')):.3f}",
        f"{_ours_final(comparison, attrgetter('worst_region')):.3f}",
        _seconds(comparison.ours_median(lambda run: run.first_preview)),
        _mib(comparison.ours_median(lambda run: run.peak_mib)),
    ]


def _ours_final_distances(comparison: Comparison) -> Distances:
    """The verdict on our median run's final picture (by texture distance; the engine is deterministic, so the
    runs' pictures are alike)."""
    runs = sorted(comparison.ours, key=lambda run: run.final.distances.texture)
    return runs[(len(runs) - 1) // 2].final.distances


def quality_table(comparisons: list[Comparison], reference: str) -> str:
    """A reference against ours (time to its judged quality, ratios), and our final picture's verdict."""
    return _configuration_table(
        comparisons,
        [*_reference_header(reference), *OURS_HEADER],
        lambda c: [*_reference_cells(c, reference), *_ours_cells(c)],
    )


def headline_table(comparisons: list[Comparison]) -> str:
    """The headline: the same-objective reference's time to our final objective over our whole job, and the judge's
    verdict on both final pictures."""
    header = [
        "ref run (s)",
        "ref final objective",
        "ours final objective (median)",
        "ref at ours' objective (s)",
        "ours whole job (s, median)",
        "headline ratio",
        "ref texture / content / structure",
        "ours texture / content / structure",
    ]

    def verdict(distances: Distances) -> str:
        return f"{_distance(distances.texture)} / {_distance(distances.content)} / {distances.structure:.3f}"

    def cells(c: Comparison) -> list[str]:
        judged = c.references[HEADLINE]
        ratio, reached = c.headline_ratio
        return [
            _seconds(judged.run.seconds),
            _distance(c.reference_objective[-1][2]),
            _distance(c.ours_objective_median),
            "never" if c.headline_seconds is None else _seconds(c.headline_seconds),
            _seconds(c.ours_seconds),
            _ratio(ratio) if reached else f"> {_ratio(ratio)}",
            verdict(judged.final),
            verdict(_ours_final_distances(c)),
        ]

    return _configuration_table(comparisons, header, cells)


def reference_table(comparisons: list[Comparison], reference: str) -> str:
    """Another reference against ours: its target, time to its quality and the ratios."""
    return _configuration_table(comparisons, _reference_header(reference), lambda c: _reference_cells(c, reference))


def _layer_measures() -> dict[str, Callable[[Distances], float]]:
    """The per-layer table's columns: each style layer's distance, then the texture and the paper's mean."""
    layers = {layer: (lambda distances, layer=layer: distances.layers[layer]) for layer in STYLE_LAYERS}
    return {**layers, "texture": attrgetter("texture"), "style (mean)": attrgetter("style")}


def layers_table(comparisons: list[Comparison]) -> str:
    """The style distance per layer of each reference's final picture and of ours (median over runs)."""
    measures = _layer_measures()
    rows = []
    for c in comparisons:
        for judged in c.references.values():
            cells = [_distance(measure(judged.final)) for measure in measures.values()]
            rows.append([_size(c), c.pair, f"{judged.name} reference", *cells])
        cells = [_distance(_ours_final(c, measure)) for measure in measures.values()]
        rows.append([_size(c), c.pair, f"ours (median of {len(c.ours)})", *cells])
    return markdown_table(["size", "pair", "picture", *measures], rows)


def load_warning(comparisons: list[Comparison], threads: int) -> str | None:
    """A warning when other processes competed for the CPU during the measurements."""
    highest = max(max(c.load_average) for c in comparisons)
    if highest <= threads + 0.5:
        return None
    return (
        f"Warning: the load average reached {highest:.1f} with {threads} threads measured: "
        "other processes competed for the CPU, so these times are too long and noisy."
    )


def throughput_table(comparisons: list[Comparison], peaks: Mapping[str, float], precisions: Mapping[str, str]) -> str:
    """Seconds per evaluation and achieved TFLOP/s (VGG19 forward and backward, counted as :mod:`benchmarks.flops`
    does), each against the device's peak in the precision it ran in (``precisions``: the ``references``' and
    ``ours``, such as ``tf32`` and ``bf16``), where ``peaks`` has one."""
    names = list(comparisons[0].references)
    reference_peak, ours_peak = peaks.get(precisions["references"]), peaks.get(precisions["ours"])
    header = [f"{name} ref s/evaluation" for name in names] + [f"{name} ref TFLOP/s" for name in names]
    header += [f"ours iterations at {name} quality" for name in names]
    header += ["ours iterations", "ours total (s)", "ours TFLOP/s"]
    if reference_peak:
        header += [f"{name} ref % of {precisions['references']} peak {reference_peak:g}" for name in names]
    if ours_peak:
        header += [f"ours % of {precisions['ours']} peak {ours_peak:g}"]

    def cells(c: Comparison) -> list[str]:
        runs = [c.references[name].run for name in names]
        ours_tflops = c.ours_median(lambda run: run.tflop / run.seconds)
        row = [f"{run.seconds / run.evaluations:.3g}" for run in runs] + [f"{run.tflops:.3g}" for run in runs]
        row += [_count(c.ours_median(lambda run, name=name: run.iteration_at(name))) for name in names]
        row += [str(c.ours[0].iterations), _seconds(c.ours_seconds), f"{ours_tflops:.3g}"]
        if reference_peak:
            row += [f"{100 * run.tflops / reference_peak:.1f}" for run in runs]
        if ours_peak:
            row += [f"{100 * ours_tflops / ours_peak:.1f}"]
        return row

    return _configuration_table(comparisons, header, cells)


def cpu_info() -> dict[str, str | int]:
    """The CPU: its model, its kind (see :func:`cpu_kind`) and its cores."""
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.exists() else ""
    cpu = _cpuinfo_field(text, "model name") or platform.processor() or platform.machine()
    return {
        "cpu": cpu,
        "cpu_kind": cpu_kind(set(_cpuinfo_field(text, "flags").split()), cpu),
        "cpu_cores": os.cpu_count() or 0,
    }


def machine(stylizer: Stylizer, threads: int) -> dict[str, str | int]:
    """What the figures were measured on."""
    return {
        **cpu_info(),
        "threads": threads,
        "engine": stylizer.description,
        "engine_revision": engine_revision(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _cpuinfo_field(cpuinfo: str, name: str) -> str:
    """The first value of field ``name`` in the text of ``/proc/cpuinfo``; empty if there is none."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return ""


def cpu_kind(flags: set[str], model: str) -> str:
    """The CPU's class as far as these figures go: whether it computes bf16 natively (the engine's fast path), and
    with AMX's tile units or with AVX512-BF16's vector instructions alone."""
    if "amx_bf16" in flags:
        return "AVX512-BF16/AMX"
    if "avx512_bf16" in flags:
        return "AVX512-BF16 without AMX"
    if "avx2" in flags:
        return "AVX2 only"
    return model


def machine_line(info: dict[str, str | int]) -> str:
    """The machine, one line for people."""
    return "Machine: " + "; ".join(f"{key}: {value}" for key, value in info.items())


def engine_revision() -> str:
    """The git commit the engine was measured at, marked ``+changes`` when ``styletransfer/`` differs from it."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+changes" if git("status", "--porcelain", "--", "styletransfer") else "")


def _reference_json(judged: JudgedReference) -> dict:
    run = judged.run
    return {
        "objective": run.objective,
        "loss_weights": None if run.loss_weights is None else asdict(run.loss_weights),
        "seconds": run.seconds,
        "evaluations": run.evaluations,
        "target": asdict(judged.target),
        "final": asdict(judged.final),
        "tflops": run.tflops,
        "peak_mib": judged.peak_mib,
        "losses": [{"seconds": s, "evaluation": e, "loss": loss} for s, e, loss in run.losses],
        "curve": [asdict(point) for point in judged.curve],
    }


def _ours_run_json(run: OursRun) -> dict:
    return {
        "time_to_quality": {name: run.time_to(name) for name in run.reached},
        "iteration_to_quality": {name: run.iteration_at(name) for name in run.reached},
        "seconds": run.seconds,
        "first_preview": run.first_preview,
        "iterations": run.iterations,
        "tflops": run.tflop / run.seconds,
        "peak_mib": run.peak_mib,
        "curve": [asdict(point) for point in run.curve],
    }


def _objective_json(comparison: Comparison) -> dict:
    """Our final pictures' objective and, where it ran, the same-objective reference's race to it."""
    race = {"ours_final": comparison.ours_objective}
    if HEADLINE in comparison.references:
        ratio, reached = comparison.headline_ratio
        race |= {
            "reference_snapshots": [
                {"seconds": s, "evaluation": e, "objective": value} for s, e, value in comparison.reference_objective
            ],
            "reference_at_ours": comparison.headline_seconds,
            "headline_ratio": ratio,
            "headline_reached": reached,
        }
    return race


def comparison_json(comparison: Comparison, files: dict[str, str]) -> dict:
    """Everything measured for one configuration, without the pictures (those are files)."""
    names = list(comparison.references)
    return {
        "pair": comparison.pair,
        "size": list(comparison.size),
        "files": files,
        "load_average": list(comparison.load_average),
        "headline": HEADLINE,
        "objective": _objective_json(comparison),
        "references": {name: _reference_json(judged) for name, judged in comparison.references.items()},
        "ours": {
            "seconds_median": comparison.ours_seconds,
            "time_to_quality_median": {name: comparison.time_to_quality(name) for name in names},
            "ratio": {name: comparison.ratio(name) for name in names},
            "whole_job_ratio": {name: comparison.whole_job_ratio(name) for name in names},
            "runs": [_ours_run_json(run) for run in comparison.ours],
        },
    }


def write_json(path: Path, comparisons: list[Comparison], files: list[dict[str, str]], context: dict) -> None:
    """Write results.json: the context (machine, settings) and one entry per configuration."""
    results = [comparison_json(c, f) for c, f in zip(comparisons, files, strict=True)]
    path.write_text(json.dumps({**context, "results": results}, indent=1))
