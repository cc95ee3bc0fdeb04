"""The soak's plot, drawn with PIL: the server's samples and the jobs' outcomes against minutes into the soak."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from .plot import GRID_COLOR, TEXT_COLOR, _font, _nice_step
from .soak import FAILURES, OUTCOMES, Soak

WIDTH, HEIGHT = 1600, 1250
COLUMNS, ROWS = 2, 3
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM, GAP = 80, 30, 60, 50, 90
COLORS = [(31, 119, 180), (230, 110, 20), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]
OUTCOME_COLORS = dict(zip(OUTCOMES, [*COLORS, (127, 127, 127), (0, 0, 0)], strict=True))

Series = tuple[str, tuple[int, int, int], Sequence[tuple[float, float]]]
"""A label, a colour and (minutes, value) points."""


@dataclass(frozen=True)
class _Axes:
    box: tuple[int, int, int, int]
    x_max: float
    y_max: float

    def at(self, x: float, y: float) -> tuple[float, float]:
        left, top, right, bottom = self.box
        return left + (right - left) * x / self.x_max, bottom - (bottom - top) * y / self.y_max


def _panel(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    title: str,
    series: Sequence[Series],
    x_max: float,
    *,
    dots: bool = False,
    band: tuple[float, float] | None = None,
) -> None:
    """One panel: ``series`` from 0 up, a legend in its title line; ``band`` shades a range of values."""
    values = [y for _, _, points in series for _, y in points] + ([band[1]] if band else [])
    axes = _Axes(box, x_max, max([*values, 1e-9]) * 1.1)
    left, top, right, bottom = box
    font = _font(14)
    if band is not None:
        (_, low), (_, high) = axes.at(0, band[0]), axes.at(0, band[1])
        draw.rectangle([left, high, right, low], fill=(236, 244, 236))
    x_step, y_step = _nice_step(x_max), _nice_step(axes.y_max)
    for i in range(int(x_max / x_step) + 1):
        x, _ = axes.at(i * x_step, 0)
        draw.line([(x, top), (x, bottom)], fill=GRID_COLOR)
        draw.text((x, bottom + 6), f"{i * x_step:g}", fill=TEXT_COLOR, font=font, anchor="mt")
    for i in range(int(axes.y_max / y_step) + 1):
        _, y = axes.at(0, i * y_step)
        draw.line([(left, y), (right, y)], fill=GRID_COLOR)
        draw.text((left - 6, y), f"{i * y_step:g}", fill=TEXT_COLOR, font=font, anchor="rm")
    for _, color, points in series:
        pixels = [axes.at(x, y) for x, y in points]
        if dots:
            for x, y in pixels:
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=color)
        elif len(pixels) > 1:
            draw.line(pixels, fill=color, width=3, joint="curve")
    draw.rectangle(box, outline=TEXT_COLOR)
    draw.text(((left + right) / 2, bottom + 26), "minutes", fill=TEXT_COLOR, font=font, anchor="mt")
    draw.text((left, top - 30), title, fill=TEXT_COLOR, font=_font(16), anchor="lb")
    x = left
    for label, color, _ in series:
        draw.line([(x, top - 12), (x + 24, top - 12)], fill=color, width=4)
        draw.text((x + 30, top - 12), label, fill=TEXT_COLOR, font=font, anchor="lm")
        x += 40 + draw.textlength(label, font=font)


def _running_counts(result: Soak, outcome: str) -> list[tuple[float, float]]:
    """How many jobs had ended with ``outcome`` at each moment one did (minutes, count)."""
    ends = sorted(job.ended / 60 for job in result.jobs if job.outcome == outcome)
    return [(0.0, 0.0)] + [(minute, count) for count, minute in enumerate(ends, 1)]


def plot_soak(result: Soak, path: Path) -> None:
    """Write a PNG of ``result``: memory, descriptors and threads, folders, queue, latency and outcomes."""
    samples = result.samples
    minutes = [s.seconds / 60 for s in samples]
    x_max = max([*minutes, *(job.ended / 60 for job in result.jobs), 1 / 60])
    warm = next((s for s in samples if s.seconds >= result.warmup), None)
    band = (warm.rss_mb * 0.95, warm.rss_mb * 1.05) if warm is not None else None

    def line(label: str, color: int, values: Sequence[float]) -> Series:
        return label, COLORS[color], list(zip(minutes, values, strict=True))

    latency = [
        (job.ended / 60, job.ended - job.sent) for job in result.jobs if job.kind == "good" and job.outcome == "done"
    ]
    outcomes = [o for o in OUTCOMES if any(job.outcome == o for job in result.jobs) or o in FAILURES]
    panels = [
        (
            "Resident memory (MB); shaded: within 5 % of its level after the warm-up",
            [line("RSS", 0, [s.rss_mb for s in samples])],
            {"band": band},
        ),
        (
            "Open file descriptors and threads",
            [line("descriptors", 0, [s.fds for s in samples]), line("threads", 1, [s.threads for s in samples])],
            {},
        ),
        (
            "Folders (MB)",
            [
                line("Gradio's temporary folder", 0, [s.temp_mb for s in samples]),
                line("downloads", 1, [s.downloads_mb for s in samples]),
            ],
            {},
        ),
        ("Jobs waiting in the queue", [line("queue", 0, [s.queue for s in samples])], {}),
        ("Good jobs: seconds from sending to the result", [("latency", COLORS[0], latency)], {"dots": True}),
        ("Jobs ended so far, by outcome", [(o, OUTCOME_COLORS[o], _running_counts(result, o)) for o in outcomes], {}),
    ]
    canvas = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(canvas)
    heading = (
        f"Soak: {result.minutes:g} min, {result.clients} clients, {len(result.jobs)} jobs, "
        f"files kept {result.keep_files:g} s"
    )
    draw.text((WIDTH / 2, 12), heading, fill=TEXT_COLOR, font=_font(18), anchor="mt")
    width = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT - (COLUMNS - 1) * GAP) // COLUMNS
    height = (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM - (ROWS - 1) * GAP) // ROWS
    for index, (title, series, options) in enumerate(panels):
        column, row = index % COLUMNS, index // COLUMNS
        left = MARGIN_LEFT + column * (width + GAP)
        top = MARGIN_TOP + 40 + row * (height + GAP)
        _panel(draw, (left, top, left + width, top + height - 40), title, series, x_max, **options)
    canvas.save(path)
