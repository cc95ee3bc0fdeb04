"""The loss-vs-time plot of one comparison, drawn with PIL: judge distances against seconds, log scale."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .compare import Comparison, JudgedReference
from .judge import Point, Target

WIDTH, HEIGHT = 1800, 680
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 90, 30, 170, 70
REFERENCE_COLORS = {"tutorial": (31, 119, 180), "balanced": (148, 103, 189), "same_objective": (44, 160, 44)}
OURS_COLOR = (230, 110, 20)
GRID_COLOR = (225, 225, 225)
TEXT_COLOR = (20, 20, 20)
#: The panels: a title and the judge's measure each one plots.
PANELS = [("style distance (paper's mean)", "style"), ("texture distance", "texture"), ("content distance", "content")]


@dataclass(frozen=True)
class _Axes:
    """A panel's box in pixels and the data range it shows (y as log10)."""

    box: tuple[int, int, int, int]
    x_max: float
    y_low: float
    y_high: float

    def at(self, seconds: float, value: float) -> tuple[float, float]:
        """The pixel position of (seconds, value)."""
        left, top, right, bottom = self.box
        x = left + (right - left) * seconds / self.x_max
        y = bottom - (bottom - top) * (math.log10(value) - self.y_low) / (self.y_high - self.y_low)
        return x, y


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _nice_step(span: float, ticks: int = 6) -> float:
    """A round tick spacing (1, 2 or 5 × 10ⁿ) giving about ``ticks`` ticks over ``span``."""
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _dashed_line(
    draw: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float], color, dash=8
) -> None:
    (x0, y0), (x1, y1) = start, end
    length = math.hypot(x1 - x0, y1 - y0)
    for offset in range(0, int(length), 2 * dash):
        a, b = offset / length, min(offset + dash, length) / length
        draw.line(
            [(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)], fill=color, width=2
        )


def _draw_axes(draw: ImageDraw.ImageDraw, axes: _Axes, title: str) -> None:
    left, top, right, bottom = axes.box
    font = _font(14)
    step = _nice_step(axes.x_max)
    for i in range(int(axes.x_max / step) + 1):
        x, _ = axes.at(i * step, 10**axes.y_low)
        draw.line([(x, top), (x, bottom)], fill=GRID_COLOR)
        draw.text((x, bottom + 6), f"{i * step:g}", fill=TEXT_COLOR, font=font, anchor="mt")
    for decade in range(math.floor(axes.y_low), math.ceil(axes.y_high) + 1):
        for mantissa in range(1, 10):
            value = mantissa * 10.0**decade
            if not axes.y_low <= math.log10(value) <= axes.y_high:
                continue
            _, y = axes.at(0, value)
            draw.line([(left, y), (right, y)], fill=GRID_COLOR if mantissa > 1 else (190, 190, 190))
            if mantissa in (1, 2, 5):
                draw.text((left - 6, y), f"{value:g}", fill=TEXT_COLOR, font=font, anchor="rm")
    draw.rectangle(axes.box, outline=TEXT_COLOR)
    draw.text(((left + right) / 2, bottom + 30), "seconds", fill=TEXT_COLOR, font=font, anchor="mt")
    draw.text(((left + right) / 2, top - 8), title, fill=TEXT_COLOR, font=_font(16), anchor="mb")


def _log_range(values: Sequence[float]) -> tuple[float, float]:
    """log10 bounds a little wider than the positive ``values``."""
    logs = [math.log10(v) for v in values if v > 0]
    low, high = min(logs), max(logs)
    pad = max(0.05 * (high - low), 0.1)
    return low - pad, high + pad


def _target_value(target: Target, measure: str) -> float | None:
    """The target's bound on ``measure``; ``None`` if the target does not bound it."""
    if measure == "content":
        return target.content
    return target.style if measure == target.style_measure else None


def _panel(
    draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], comparison: Comparison, title: str, measure: str
) -> None:
    """One panel: every curve of one measure, the references' targets on it, and when ours reached them."""
    references = list(comparison.references.values())
    curves = [(judged.curve, REFERENCE_COLORS[judged.name]) for judged in references]
    curves += [(run.curve, OURS_COLOR) for run in comparison.ours]
    bounds = [(judged, _target_value(judged.target, measure)) for judged in references]
    bounds = [(judged, value) for judged, value in bounds if value is not None]

    def value(point: Point) -> float:
        return getattr(point.distances, measure)

    points = [p for curve, _ in curves for p in curve]
    x_max = max(p.seconds for p in points) * 1.02 or 1.0
    axes = _Axes(box, x_max, *_log_range([value(p) for p in points] + [bound for _, bound in bounds]))
    _draw_axes(draw, axes, title)
    for curve, color in curves:
        draw.line([axes.at(p.seconds, value(p)) for p in curve if value(p) > 0], fill=color, width=3, joint="curve")
    for judged, bound in bounds:
        color = REFERENCE_COLORS[judged.name]
        _dashed_line(draw, axes.at(0, bound), axes.at(x_max, bound), color)
        reached = comparison.time_to_quality(judged.name)
        if reached is not None:
            x, _ = axes.at(reached, bound)
            _dashed_line(draw, (x, box[1]), (x, box[3]), color, dash=4)


def _legend_entry(comparison: Comparison, judged: JudgedReference) -> str:
    run = judged.run
    reached = comparison.time_to_quality(judged.name)
    when = f"at {reached:.3g} s (median)" if reached is not None else "not reached"
    target = judged.target  # spelt out: the default font has no "≤"
    return (
        f"{judged.name} reference ({run.objective}; {run.evaluations} L-BFGS evaluations, {run.seconds:.3g} s);"
        f" its target, {target.style_measure} <= {target.style:.4g} and content <= {target.content:.4g}: {when}"
    )


def _legend(draw: ImageDraw.ImageDraw, comparison: Comparison) -> None:
    runs = len(comparison.ours)
    entries = [
        (REFERENCE_COLORS[judged.name], _legend_entry(comparison, judged)) for judged in comparison.references.values()
    ]
    entries += [
        (OURS_COLOR, f"ours ({runs} run{'s' if runs > 1 else ''}, output-size previews only)"),
        (None, "dashed: a reference's final distance (its target); dotted: when ours met its whole target"),
    ]
    font = _font(15)
    for i, (color, label) in enumerate(entries):
        x, y = MARGIN_LEFT, 50 + i * 26
        if color is not None:
            draw.line([(x, y), (x + 36, y)], fill=color, width=4)
        draw.text((x + 46, y), label, fill=TEXT_COLOR, font=font, anchor="lm")


def plot_comparison(comparison: Comparison, path: Path) -> None:
    """Write a PNG with the style, texture and content distances of both references and ours against time."""
    canvas = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(canvas)
    width, height = comparison.size
    heading = f"{comparison.pair} at {width}x{height}: judge's distances (log scale) against wall time"
    draw.text((WIDTH / 2, 10), heading, fill=TEXT_COLOR, font=_font(18), anchor="mt")
    _legend(draw, comparison)
    panel_width = (WIDTH - len(PANELS) * MARGIN_LEFT - MARGIN_RIGHT) // len(PANELS)
    for i, (title, measure) in enumerate(PANELS):
        left = MARGIN_LEFT + i * (panel_width + MARGIN_LEFT)
        _panel(draw, (left, MARGIN_TOP, left + panel_width, HEIGHT - MARGIN_BOTTOM), comparison, title, measure)
    canvas.save(path)
