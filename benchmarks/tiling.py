"""``python -m benchmarks.tiling``: peak memory and seconds per iteration of a job, whole against tiled.

Each measurement is one real job (one scale, a few iterations) in a fresh process, so
that the peak resident memory (``VmHWM``, or CUDA's allocator peak) is that job's
alone. The whole picture runs with no memory limit; the tiled one with
``--max-memory``, which makes the plan cut it into tiles (see
:mod:`styletransfer.tiling`). Prints a markdown table; asserts nothing.

    python -m benchmarks.tiling                          # 1024 and 2048 px, 2 GB for the tiled runs
    python -m benchmarks.tiling --sizes 4096 --max-memory 4GB --iterations 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

from styletransfer import StyleConfig, Stylizer, load_image
from styletransfer.images import resize_long_side
from styletransfer.memory import parse_memory, plan_scale, readable_bytes

from . import cuda
from .measure import PeakMemory
from .report import machine, machine_line

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "examples" / "rocket.jpg"
STYLE = ROOT / "examples" / "paintings" / "the_scream_munch_1893.jpg"


def measure_job(
    size: int,
    *,
    iterations: int = 2,
    max_memory: int | None = None,
    device: str = "cpu",
    content: Path = CONTENT,
    style: Path = STYLE,
    output: Path | None = None,
) -> dict:
    """Run one job of one scale at ``size`` (long side) and return its tiles, the peak memory it added (MiB),
    its seconds per iteration (after the first) and the plan's estimate; with ``output``, save the picture.
    A photo smaller than ``size`` is enlarged to it first (the engine never paints beyond the photo's size)."""
    stylizer = Stylizer("bundled", device=device)
    photo, painting = load_image(content), load_image(style, max_side=size)
    photo = resize_long_side(photo, size)
    with PeakMemory(stylizer.device) as peak:
        before = _resident_mib(stylizer.device)
        events = list(
            stylizer.stylize(photo, painting, size=size, scales=1, iterations=iterations, preview_every=0,
                             max_memory=max_memory)
        )  # fmt: skip
    elapsed = [event.elapsed for event in events]
    per_iteration = (elapsed[-1] - elapsed[0]) / (len(elapsed) - 1) if len(elapsed) > 1 else elapsed[0]
    if output is not None:
        events[-1].image.save(output)
    width, height = events[-1].size
    config = StyleConfig()
    plan = plan_scale((width, height), config.network_layers, max_memory or 2**50)
    return {
        "size": [width, height],
        "tiles": events[-1].tiles,
        "peak_mib": (peak.mib or 0.0) - before,
        "seconds_per_iteration": per_iteration,
        "estimate_mib": plan.needed / 2**20,
    }


def _resident_mib(device: torch.device) -> float:
    if cuda.is_cuda(device):
        return cuda.memory_bytes(device) / 2**20
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def measure_in_fresh_process(size: int, **options) -> dict:
    """:func:`measure_job` in a new Python process (paths as strings), so that no earlier job's peak counts."""
    arguments = {key: str(value) if isinstance(value, Path) else value for key, value in options.items()}
    script = (
        "import json; from pathlib import Path; from benchmarks.tiling import measure_job; "
        f"options = {arguments!r}; "
        "options = {k: Path(v) if k in ('content', 'style', 'output') and v else v for k, v in options.items()}; "
        f"print(json.dumps(measure_job({size}, **options)))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"The {size} px measurement failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Measure each size whole and tiled, and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tiling", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    parser.add_argument("--max-memory", type=parse_memory, default=parse_memory("2GB"), help="for the tiled runs")
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only-tiled", action="store_true", help="skip the whole-picture runs (too big to fit)")
    parser.add_argument("--save", type=Path, help="a folder for the tiled pictures")
    args = parser.parse_args(argv)
    print(machine_line(machine(Stylizer("bundled", device=args.device), torch.get_num_threads())))
    print(f"\nTiled runs within {readable_bytes(args.max_memory)}; {args.iterations} iterations, one scale.\n")
    print("| size | run | tiles | peak memory added | plan's estimate | s / iteration |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size in args.sizes:
        runs = [("tiled", args.max_memory)] if args.only_tiled else [("whole", None), ("tiled", args.max_memory)]
        for name, limit in runs:
            output = args.save / f"tiled_{size}.png" if args.save and limit else None
            figures = measure_in_fresh_process(
                size, iterations=args.iterations, max_memory=limit, device=args.device, output=output
            )
            width, height = figures["size"]
            print(
                f"| {width}×{height} | {name} | {figures['tiles']} | {figures['peak_mib']:.0f} MiB "
                f"| {figures['estimate_mib']:.0f} MiB | {figures['seconds_per_iteration']:.1f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
