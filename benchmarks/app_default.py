"""The app's default job as a visitor meets it: ``python -m benchmarks.app_default``.

Starts ``app.py`` in a process of its own, exactly as a user does (the start-up fit included), and sends it the
default job through the API, no settings, for each photo: a 4:3 photo and a square one by default. For each job it
prints the size the app chose, the time the page first promised (the status line's time left at the first
iteration, plus the seconds already gone), and the whole job's time from submission to the final picture.

The machine must be quiet: these are absolute times, the one figure here that another process skews.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from PIL import Image

from .report import cpu_info
from .server import ROOT, AppProcess

EXAMPLES = ROOT / "examples"
#: The default photos: the coffee photo cropped to 4:3, and the square astronaut.
PHOTOS = (EXAMPLES / "coffee.jpg", EXAMPLES / "astronaut.jpg")
PAINTING = EXAMPLES / "paintings" / "starry_night_van_gogh_1889.jpg"
#: The start-up log's line that names the fitted default.
FITTED = re.compile(r"Default job: (\d+) px, about (\d+) s here")
#: How often the client looks at a job (seconds).
POLL = 0.25
#: The status line's time left, as :func:`webapp.render.clock` writes it: ``1:05`` or ``42 s``.
TIME_LEFT = re.compile(r"about (?:(\d+):(\d\d)|(\d+) s) left")


@dataclass(frozen=True)
class JobTiming:
    """One default job through the API."""

    photo: str
    output_size: tuple[int, int]
    promised_seconds: float | None
    """What the page first said the whole job would take (time gone plus the first time left), if it said."""
    seconds: float


def four_by_three(photo: Path, folder: Path) -> Path:
    """``photo`` centre-cropped to 4:3 (landscape), saved in ``folder``; unchanged if it already is 4:3."""
    image = Image.open(photo)
    width, height = image.size
    if width * 3 == height * 4:
        return photo
    new_width = min(width, height * 4 // 3)
    new_height = new_width * 3 // 4
    left, top = (width - new_width) // 2, (height - new_height) // 2
    cropped = folder / f"{photo.stem}_4x3.png"
    image.crop((left, top, left + new_width, top + new_height)).save(cropped)
    return cropped


def seconds_left(status: str) -> float | None:
    """The time left that a status line names, in seconds, or ``None``."""
    match = TIME_LEFT.search(status)
    if match is None:
        return None
    minutes, secs, only_secs = match.groups()
    return float(only_secs) if only_secs else 60.0 * int(minutes) + int(secs)


def time_default_job(url: str, photo: Path, painting: Path) -> JobTiming:
    """Send the default job (``photo`` × ``painting``, no settings) and time it from submission to the result."""
    from gradio_client import Client, handle_file

    # A visitor's browser runs on another machine; this client runs on the server's cores, so it downloads nothing
    # until the end and looks at the job every POLL seconds (iterating over a job makes gradio_client wake up every
    # millisecond, which slowed the square job by about 6 s on 2 cores).
    client = Client(url, verbose=False, download_files=False)
    start = time.perf_counter()
    job = client.submit(content=handle_file(str(photo)), style=handle_file(str(painting)), api_name="/stylize")
    promised = None
    while not job.done():
        time.sleep(POLL)
        if promised is None:
            lefts = [seconds_left(str(output[2])) for output in job.outputs() if len(output) > 2]
            left = next((seconds for seconds in lefts if seconds is not None), None)
            promised = None if left is None else time.perf_counter() - start + left
    result = job.result()
    seconds = time.perf_counter() - start
    return JobTiming(photo.name, picture_size(result[0]), promised, seconds)


def picture_size(output: dict) -> tuple[int, int]:
    """The size of the picture an output names (a file the server serves, not downloaded during the job)."""
    with urllib.request.urlopen(output["url"]) as response, Image.open(io.BytesIO(response.read())) as picture:
        return picture.size


def fitted_default(log: Path) -> tuple[int, int] | None:
    """The default size and predicted seconds (square photo) that the app logged at start-up."""
    match = FITTED.search(log.read_text(errors="replace"))
    return (int(match.group(1)), int(match.group(2))) if match else None


def table(timings: Sequence[JobTiming]) -> str:
    """The jobs as a markdown table."""
    rows = ["| photo | output | promised at the start | whole job | promised / actual |", "|---|---|---|---|---|"]
    for t in timings:
        promised = f"{t.promised_seconds:.0f} s" if t.promised_seconds is not None else "–"
        ratio = f"{t.promised_seconds / t.seconds:.2f}" if t.promised_seconds is not None else "–"
        width, height = t.output_size
        rows.append(f"| {t.photo} | {width}×{height} | {promised} | {t.seconds:.1f} s | {ratio} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the app, time its default job on each photo ``--runs`` times, and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_default", description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, nargs="+", help="photos (default: coffee cropped to 4:3, astronaut)")
    parser.add_argument("--painting", type=Path, default=PAINTING)
    parser.add_argument("--runs", type=int, default=1, help="jobs per photo (default 1)")
    args = parser.parse_args(argv)

    info = cpu_info()
    print(f"CPU: {info['cpu']} ({info['cpu_kind']}), {info['cpu_cores']} cores; torch {version('torch')}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        photos = args.photos or [four_by_three(PHOTOS[0], folder), PHOTOS[1]]
        environ = {**os.environ, "STYLETRANSFER_WEIGHTS": "bundled"}
        with AppProcess(folder, command=[sys.executable, "app.py"], environ=environ) as server:
            fitted = fitted_default(server.log)
            if fitted:
                print(f"The app's start-up fit: {fitted[0]} px, about {fitted[1]} s for a square photo")
            timings = [time_default_job(server.url, p, args.painting) for p in photos for _ in range(args.runs)]
    print(table(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
