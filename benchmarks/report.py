"""The results as markdown tables (for people and the README) and as JSON (for machines)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict
from pathlib import Path

import torch

from styletransfer import Stylizer

from .compare import Comparison


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _count(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _size(comparison: Comparison) -> str:
    width, height = comparison.size
    return f"{width}×{height}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def headline_table(comparisons: list[Comparison]) -> str:
    """Time to the reference's quality, the ratio, first preview and peak memory, one row per configuration."""
    header = [
        "size",
        "pair",
        "reference (s)",
        "ref style",
        "ref content",
        "ours to ref quality (s, median)",
        "ratio",
        "ours final style",
        "ours final content",
        "first preview (s)",
        "peak MiB ref / ours",
    ]
    rows = []
    for c in comparisons:
        target = c.target
        reached = c.time_to_quality
        rows.append(
            [
                _size(c),
                c.pair,
                _seconds(c.reference.seconds),
                f"{target.style:.4g}",
                f"{target.content:.4g}",
                f"{reached:.3g} (of {len(c.ours)})" if reached is not None else f"not reached (of {len(c.ours)})",
                f"{c.ratio:.1f}×" if c.ratio is not None else "n/a",
                f"{c.ours_median(lambda run: run.final.style):.4g}",
                f"{c.ours_median(lambda run: run.final.content):.4g}",
                _seconds(c.ours_median(lambda run: run.first_preview)),
                f"{_mib(c.reference_peak_mib)} / {_mib(c.ours_median(lambda run: run.peak_mib))}",
            ]
        )
    return _table(header, rows)


def load_warning(comparisons: list[Comparison], threads: int) -> str | None:
    """A warning when other processes competed for the CPU during the measurements."""
    highest = max(max(c.load_average) for c in comparisons)
    if highest <= threads + 0.5:
        return None
    return (
        f"Warning: the load average reached {highest:.1f} with {threads} threads measured: "
        "other processes competed for the CPU, so these times are too long and noisy."
    )


def throughput_table(comparisons: list[Comparison], peak_tflops: float | None) -> str:
    """Seconds per evaluation and achieved TFLOP/s (VGG19 forward+backward work), optionally against a peak."""
    header = [
        "size",
        "pair",
        "ref s/evaluation",
        "ref TFLOP/s",
        "ours iterations at quality / total",
        "ours total (s)",
        "ours TFLOP/s",
    ]
    if peak_tflops:
        header += [f"ref % of {peak_tflops:g}", f"ours % of {peak_tflops:g}"]
    rows = []
    for c in comparisons:
        ours_seconds = c.ours_median(lambda run: run.seconds)
        ours_tflops = c.ours_median(lambda run: run.tflop / run.seconds)
        at_quality = c.ours_median(lambda run: None if run.reached is None else run.reached.iteration)
        row = [
            _size(c),
            c.pair,
            f"{c.reference.seconds / c.reference.evaluations:.3g}",
            f"{c.reference_tflops:.3g}",
            f"{_count(at_quality)} / {c.ours[0].iterations}",
            _seconds(ours_seconds),
            f"{ours_tflops:.3g}",
        ]
        if peak_tflops:
            row += [f"{100 * c.reference_tflops / peak_tflops:.1f}", f"{100 * ours_tflops / peak_tflops:.1f}"]
        rows.append(row)
    return _table(header, rows)


def machine(stylizer: Stylizer, threads: int) -> dict[str, str | int]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            cpu,
        )
    return {
        "cpu": cpu,
        "cpu_cores": os.cpu_count() or 0,
        "threads": threads,
        "engine": stylizer.description,
        "engine_revision": engine_revision(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def engine_revision() -> str:
    """The git commit the engine was measured at, marked ``+changes`` when ``styletransfer/`` differs from it."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+changes" if git("status", "--porcelain", "--", "styletransfer") else "")


def comparison_json(comparison: Comparison, files: dict[str, str]) -> dict:
    """Everything measured for one configuration, without the pictures (those are files)."""
    reference = comparison.reference
    return {
        "pair": comparison.pair,
        "size": list(comparison.size),
        "files": files,
        "load_average": list(comparison.load_average),
        "reference": {
            "seconds": reference.seconds,
            "evaluations": reference.evaluations,
            "style": comparison.target.style,
            "content": comparison.target.content,
            "tflops": comparison.reference_tflops,
            "peak_mib": comparison.reference_peak_mib,
            "losses": [{"seconds": s, "evaluation": e, "loss": loss} for s, e, loss in reference.losses],
            "curve": [asdict(point) for point in comparison.reference_curve],
        },
        "ours": {
            "time_to_quality_median": comparison.time_to_quality,
            "ratio": comparison.ratio,
            "runs": [
                {
                    "time_to_quality": run.time_to_quality,
                    "iteration_to_quality": None if run.reached is None else run.reached.iteration,
                    "seconds": run.seconds,
                    "first_preview": run.first_preview,
                    "iterations": run.iterations,
                    "tflops": run.tflop / run.seconds,
                    "peak_mib": run.peak_mib,
                    "curve": [asdict(point) for point in run.curve],
                }
                for run in comparison.ours
            ],
        },
    }


def write_json(path: Path, comparisons: list[Comparison], files: list[dict[str, str]], context: dict) -> None:
    """Write results.json: the context (machine, settings) and one entry per configuration."""
    results = [comparison_json(c, f) for c, f in zip(comparisons, files, strict=True)]
    path.write_text(json.dumps({**context, "results": results}, indent=1))
