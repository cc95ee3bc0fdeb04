"""What a Ray pool costs and gains: ``python -m benchmarks.pool [--size 128] [--iterations 30] [--jobs 6]``.

The app's own path (:meth:`webapp.jobs.Studio.stylize`, the page's callback) is timed three ways on this machine: in
the app's process (the default), on a local Ray pool of one worker (all the cores), and on one of two workers (an
even share of the cores each). For each: single jobs on an idle device (the time from submission to the first
preview and to the result), and ``--jobs`` jobs submitted at once by as many visitors (jobs per minute, and the
mean time to each one's first preview, waiting included). Then the pool's overhead, measured on its own: starting
Ray and the workers, an empty job's round trip, a job's files going out and its result coming back, and how long a
progress event takes from the worker to the app. The machine's cores bound what more workers can gain: each
worker then gets fewer of them. Prints a table; ``--out`` also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from PIL import Image

from styletransfer import StyleConfig, Stylizer
from styletransfer.pool import PoolSetting, WorkerPool
from webapp.jobs import Studio
from webapp.masks import UserRegions
from webapp.options import options_from_config
from webapp.pool import AppPool, portable
from webapp.render import OutputFiles, display_size
from webapp.zerogpu import Request

from .report import cpu_info

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PHOTO, PAINTING = EXAMPLES / "coffee.jpg", EXAMPLES / "paintings" / "starry_night_van_gogh_1889.jpg"
#: Round trips timed for each overhead figure (their median is reported).
PROBES = 20


@dataclass(frozen=True)
class Mode:
    """How one way of running the jobs did."""

    name: str
    workers: int
    cores_each: int
    first_preview_seconds: float
    """Median over single jobs on an idle device: submission to the first preview."""
    job_seconds: float
    """Median over single jobs: submission to the result."""
    jobs_per_minute: float
    """``--jobs`` jobs submitted at once."""
    queued_first_preview_seconds: float
    """Mean over those jobs, waiting for a device included."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pool", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128, help="output size, long side (default 128)")
    parser.add_argument("--iterations", type=int, default=30, help="iterations of each job (one scale; default 30)")
    parser.add_argument("--jobs", type=int, default=6, help="jobs submitted at once for the throughput (default 6)")
    parser.add_argument("--repeats", type=int, default=3, help="single jobs timed per mode (default 3)")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    return parser.parse_args(argv)


def timed_job(studio: Studio, options: dict) -> tuple[float, float]:
    """Run one job through the page's callback: seconds from submission to its first preview, and to its result."""
    start = time.perf_counter()
    first = None
    for outputs in studio.stylize(str(PHOTO), str(PAINTING), None, **options):
        if first is None and isinstance(outputs[0], Image.Image):
            first = time.perf_counter() - start
    return first if first is not None else float("nan"), time.perf_counter() - start


def measure_mode(name: str, studio: Studio, options: dict, args: argparse.Namespace) -> Mode:
    """Single jobs one after another, then ``args.jobs`` at once."""
    for _ in range(studio.slots):  # each worker's first job sets up its kernels; not counted
        timed_job(studio, options)
    singles = [timed_job(studio, options) for _ in range(args.repeats)]
    start = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as visitors:
        crowd = list(visitors.map(lambda _: timed_job(studio, options), range(args.jobs)))
    seconds = time.perf_counter() - start
    pool = studio.pool
    return Mode(
        name=name,
        workers=studio.slots,
        cores_each=pool.pool.layout.cores if pool is not None else torch.get_num_threads(),
        first_preview_seconds=statistics.median(first for first, _ in singles),
        job_seconds=statistics.median(total for _, total in singles),
        jobs_per_minute=args.jobs / seconds * 60,
        queued_first_preview_seconds=statistics.mean(first for first, _ in crowd),
    )


def _nothing(held: object) -> Iterator[int]:
    yield 0


def _echo(held: object, payload: bytes, back: int) -> Iterator[bytes]:
    yield payload[:back] if len(payload) >= back else payload + bytes(back - len(payload))


def _stamped(held: object, preview: Image.Image, count: int) -> Iterator[tuple[float, Image.Image]]:
    for _ in range(count):
        time.sleep(0.02)  # an engine iteration's pause between events, so that each goes on its own
        yield time.time(), preview


def median_seconds(run: Callable[[], object]) -> float:
    """The median wall time of :data:`PROBES` calls of ``run``."""
    times = []
    for _ in range(PROBES):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def overheads(pool: WorkerPool, size: int) -> dict[str, float]:
    """The pool's costs per job, each measured on its own (see the module's doc)."""
    photo = Image.open(PHOTO).convert("RGB")
    preview_size = display_size(photo.size)
    request = portable(Request("original", str(PHOTO), (str(PAINTING),), StyleConfig(), UserRegions(), preview_size))
    sent = len(pickle.dumps(request))
    result = io.BytesIO()
    photo.resize((size, round(size * photo.height / photo.width))).save(result, format="PNG")
    back = len(pickle.dumps(Image.open(io.BytesIO(result.getvalue()))))
    preview = photo.resize(preview_size)
    empty = median_seconds(lambda: pool.call(_nothing))
    transfer = median_seconds(lambda: pool.call(_echo, pickle.dumps(request), back)) - empty
    latencies = [time.time() - stamp for stamp, _ in pool.stream(_stamped, preview, PROBES)]
    return {
        "empty_job_round_trip_seconds": empty,
        "request_bytes": sent,
        "result_bytes": back,
        "files_out_and_result_back_seconds": max(transfer, 0.0),
        "progress_event_latency_seconds": statistics.median(latencies),
    }


def main(argv: list[str] | None = None) -> int:
    """Time the three modes and the overheads; print them (and write JSON with ``--out``)."""
    args = parse_args(argv)
    import ray  # an optional dependency: requirements-ray.txt

    config = StyleConfig(size=args.size, scales=1, iterations=args.iterations, preview_every=5)
    options = options_from_config(config, "original")
    stylizer = Stylizer("bundled", device="cpu")
    files = OutputFiles(tempfile.mkdtemp(prefix="benchmark-pool-"))
    cores = os.cpu_count() or 1
    torch.set_num_threads(cores)
    in_process = Studio(stylizer, defaults=config, files=files)
    in_process.warm_up()
    modes = [measure_mode("in the app's process", in_process, options, args)]
    start = time.perf_counter()
    ray.init(num_cpus=cores, object_store_memory=256 * 2**20, include_dashboard=False, configure_logging=False)
    figures: dict[str, float] = {"ray_start_seconds": time.perf_counter() - start}
    for workers in (1, 2):
        start = time.perf_counter()
        pool = AppPool.start(PoolSetting(None, workers), {"STYLETRANSFER_WEIGHTS": "bundled"})
        figures[f"pool_of_{workers}_start_seconds"] = time.perf_counter() - start
        try:
            studio = Studio(stylizer, defaults=config, files=files, pool=pool)
            modes.append(measure_mode(f"Ray, {workers} worker{'s' * (workers > 1)}", studio, options, args))
            if workers == 1:
                figures.update(overheads(pool.pool, args.size))
        finally:
            pool.close()
    ray.shutdown()
    print(report(modes, figures, args))
    if args.out:
        args.out.write_text(
            json.dumps({"machine": cpu_info(), "modes": [asdict(m) for m in modes], "overheads": figures}, indent=2)
        )
    return 0


def report(modes: list[Mode], figures: dict[str, float], args: argparse.Namespace) -> str:
    """The figures as a Markdown table and a list, for the README."""
    info = cpu_info()
    lines = [
        f"Machine: {info['cpu']} ({info['cpu_kind']}), {info['cpu_cores']} cores; jobs of "
        f"{args.size} px, one scale, {args.iterations} iterations, bundled weights.",
        "",
        "| mode | workers × cores | first preview (idle) | job (idle) | jobs/min, "
        f"{args.jobs} at once | first preview, {args.jobs} at once |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for mode in modes:
        lines.append(
            f"| {mode.name} | {mode.workers} × {mode.cores_each} | {mode.first_preview_seconds:.2f} s | "
            f"{mode.job_seconds:.2f} s | {mode.jobs_per_minute:.1f} | {mode.queued_first_preview_seconds:.2f} s |"
        )
    lines += [
        "",
        f"- Ray start: {figures['ray_start_seconds']:.1f} s; a pool of 1 worker loaded in "
        f"{figures['pool_of_1_start_seconds']:.1f} s, of 2 in {figures['pool_of_2_start_seconds']:.1f} s.",
        f"- An empty job's round trip: {figures['empty_job_round_trip_seconds'] * 1000:.1f} ms.",
        f"- A job's files out ({figures['request_bytes'] / 1024:.0f} KiB) and its result back "
        f"({figures['result_bytes'] / 1024:.0f} KiB): {figures['files_out_and_result_back_seconds'] * 1000:.1f} ms "
        "on top of that.",
        f"- A progress event (with its preview) from the worker to the app: "
        f"{figures['progress_event_latency_seconds'] * 1000:.1f} ms.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
