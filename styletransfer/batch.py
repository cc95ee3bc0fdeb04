"""Many jobs at once: ``python -m styletransfer.batch PHOTOS PAINTINGS -o OUT`` repaints every photo in the style
of every painting (or the pairs of a CSV file), here or on a Ray cluster (``--ray``; see :mod:`styletransfer.pool`).

Each output is named by its pair and its settings, ``PHOTO--PAINTING--SIZEpx-DIGEST.png`` (``.mp4`` for a clip),
the digest covering every setting and the weights, so a run with other settings writes other files. Outputs already
there are skipped: a run that was stopped picks up where it was. Each is written under a temporary name, then
renamed, so that a file there is always a finished one.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tqdm import tqdm

from .cli import add_engine_arguments, config_from_args
from .config import StyleConfig
from .engine import OutOfMemoryError, Stylizer
from .images import ImageError
from .pool import RAY_ENV, WORKERS_ENV, PoolSetting, WorkerLost, WorkerPool
from .video_io import is_video
from .weights import WeightsError

#: The files a folder of photos or paintings contributes (by suffix; a video is recognised by its content).
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}


@dataclass(frozen=True)
class Pair:
    """One job of a batch: a photo (or clip) and a painting, and where its output goes."""

    photo: Path
    painting: Path
    output: Path


@dataclass(frozen=True)
class Job:
    """What a worker needs for one pair, as bytes (it may be on another machine)."""

    photo: bytes
    painting: bytes
    config: StyleConfig
    video_suffix: str | None
    """The clip's suffix when the photo is a video, else ``None``."""


def settings_tag(config: StyleConfig, weights: str) -> str:
    """The part of an output's name that stands for its settings: the size and a digest of all of them."""
    digest = hashlib.sha256(f"{config!r}|{weights}".encode()).hexdigest()[:8]
    return f"{config.size}px-{digest}"


def files_in(source: Path, suffixes: set[str]) -> list[Path]:
    """``source`` itself, or the files of the folder ``source`` with one of ``suffixes``, by name."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise ValueError(f"{source} is neither a file nor a folder.")
    return sorted(path for path in source.iterdir() if path.is_file() and path.suffix.lower() in suffixes)


def read_pairs(table: Path) -> list[tuple[Path, Path]]:
    """The (photo, painting) rows of the CSV file ``table``, relative paths taken from its folder; a first row
    ``photo,painting`` is a header."""
    with table.open(newline="") as file:
        rows = [row for row in csv.reader(file) if row and any(cell.strip() for cell in row)]
    if rows and [cell.strip().lower() for cell in rows[0][:2]] == ["photo", "painting"]:
        rows = rows[1:]
    pairs = []
    for number, row in enumerate(rows, 1):
        if len(row) < 2:
            raise ValueError(f"{table}: row {number} has {len(row)} column; it needs a photo and a painting.")
        pairs.append((table.parent / row[0].strip(), table.parent / row[1].strip()))
    return pairs


def plan(pairs: Sequence[tuple[Path, Path]], output: Path, config: StyleConfig, weights: str) -> list[Pair]:
    """Each pair with its output file in the folder ``output``; ``ValueError`` when two pairs would write one file."""
    tag = settings_tag(config, weights)
    planned = []
    for photo, painting in pairs:
        suffix = ".mp4" if photo.suffix.lower() in VIDEO_SUFFIXES and is_video(photo) else ".png"
        planned.append(Pair(photo, painting, output / f"{photo.stem}--{painting.stem}--{tag}{suffix}"))
    seen: dict[Path, Pair] = {}
    for pair in planned:
        if pair.output in seen:
            other = seen[pair.output]
            raise ValueError(f"{pair.photo} × {pair.painting} and {other.photo} × {other.painting} share a name.")
        seen[pair.output] = pair
    return planned


def job_for(pair: Pair, config: StyleConfig) -> Job:
    """The worker's share of ``pair``: its files' bytes and the settings."""
    video = pair.photo.suffix if pair.output.suffix == ".mp4" else None
    return Job(pair.photo.read_bytes(), pair.painting.read_bytes(), config, video)


def make(stylizer: Stylizer, job: Job) -> Iterator[bytes]:
    """Run ``job`` on ``stylizer`` and yield the finished file's bytes: a PNG, or an MP4 for a clip."""
    if job.video_suffix is None:
        *_, final = stylizer.stylize(job.photo, [job.painting], job.config)
        encoded = io.BytesIO()
        final.image.save(encoded, format="PNG")
        yield encoded.getvalue()
        return
    with tempfile.TemporaryDirectory(prefix="styletransfer-batch-") as folder:
        clip, made = Path(folder, f"clip{job.video_suffix}"), Path(folder, "made.mp4")
        clip.write_bytes(job.photo)
        for _ in stylizer.stylize_video(clip, [job.painting], job.config, output=made):
            pass
        yield made.read_bytes()


def load_stylizer(weights: str, precision: str, device: str) -> Stylizer:
    """A worker's stylizer: ``weights`` at ``precision`` on ``device``."""
    return Stylizer(weights, device=device, precision=precision)


def save(pair: Pair, data: bytes) -> None:
    """Write ``data`` to ``pair.output`` under a temporary name first, so that only a whole file has its name."""
    partial_file = pair.output.with_name(f".{pair.output.name}.partial")
    partial_file.write_bytes(data)
    os.replace(partial_file, pair.output)


def run_here(pairs: Sequence[Pair], config: StyleConfig, stylizer: Stylizer, bar: tqdm) -> list[str]:
    """Make ``pairs`` one after the other in this process; the failures' messages."""
    failures = []
    for pair in pairs:
        try:
            (data,) = make(stylizer, job_for(pair, config))
        except (ImageError, ValueError, OutOfMemoryError) as error:
            failures.append(f"{pair.photo.name} × {pair.painting.name}: {error}")
        else:
            save(pair, data)
        bar.update(1)
    return failures


def run_on_pool(pairs: Sequence[Pair], config: StyleConfig, pool: WorkerPool[Stylizer], bar: tqdm) -> list[str]:
    """Make ``pairs`` on the workers of ``pool``, as many at once as it has; the failures' messages."""
    failures = []
    with ThreadPoolExecutor(max_workers=pool.size) as submit:
        running = {submit.submit(pool.call, make, job_for(pair, config)): pair for pair in pairs}
        for done in as_completed(running):
            pair = running[done]
            try:
                save(pair, done.result())
            except (ImageError, ValueError, OutOfMemoryError, WorkerLost) as error:
                failures.append(f"{pair.photo.name} × {pair.painting.name}: {error}")
            bar.update(1)
    return failures


def build_parser() -> argparse.ArgumentParser:
    """The arguments: the photos and paintings (or a CSV of pairs), the output folder, the pool, the settings."""
    parser = argparse.ArgumentParser(
        prog="python -m styletransfer.batch",
        description="Repaint every photo in the style of every painting (or each pair of a CSV file); finished "
        "outputs are skipped.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="PHOTOS PAINTINGS | PAIRS.csv",
        help="a folder (or file) of photos or clips and one of paintings, or a CSV file of photo,painting rows",
    )
    parser.add_argument("-o", "--output", required=True, type=Path, help="the folder the outputs go to")
    parser.add_argument(
        "--ray",
        metavar="SETTING",
        default=os.environ.get(RAY_ENV),
        help="run on Ray workers: local, local:N or a cluster's address (default: $STYLETRANSFER_RAY, else here)",
    )
    parser.add_argument(
        "--ray-workers", metavar="N", default=os.environ.get(WORKERS_ENV), help="workers on a cluster joined by address"
    )
    add_engine_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the batch; the exit code: 0 when every job was made, 1 when some failed, 2 for bad arguments."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        if len(args.inputs) == 1 and args.inputs[0].lower().endswith(".csv"):
            pairs = read_pairs(Path(args.inputs[0]))
        elif len(args.inputs) == 2:
            photos = files_in(Path(args.inputs[0]), IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            paintings = files_in(Path(args.inputs[1]), IMAGE_SUFFIXES)
            pairs = [(photo, painting) for photo in photos for painting in paintings]
        else:
            parser.error("give a folder of photos and one of paintings, or one CSV file of pairs")
        setting = PoolSetting.parse(args.ray, args.ray_workers)
        planned = plan(pairs, args.output, config, args.weights)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.output.mkdir(parents=True, exist_ok=True)
    todo = [pair for pair in planned if not pair.output.exists()]
    print(f"{len(planned)} jobs, {len(planned) - len(todo)} already made, into {args.output}", file=sys.stderr)
    try:
        failures = _run(todo, config, setting, args)
    except WeightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to go on", file=sys.stderr)
        return 130
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _run(todo: list[Pair], config: StyleConfig, setting: PoolSetting | None, args: argparse.Namespace) -> list[str]:
    with tqdm(total=len(todo), desc="jobs", unit="job", file=sys.stderr, dynamic_ncols=True) as bar:
        if not todo:
            return []
        if setting is None:
            return run_here(todo, config, Stylizer(args.weights, device=args.device, precision=args.precision), bar)
        pool = WorkerPool(setting, partial(load_stylizer, args.weights, args.precision))
        try:
            bar.set_postfix_str(f"{pool.size} Ray workers", refresh=True)
            return run_on_pool(todo, config, pool, bar)
        finally:
            pool.close()


if __name__ == "__main__":
    sys.exit(main())
