"""``python -m benchmarks.video``: frame-to-frame consistency of stylised video, independent frames against the
default (Ruder et al.'s temporal loss), on clips the benchmark makes itself (:mod:`benchmarks.clips`).

For each clip and each temporal weight (0: every frame a whole job of its own; the default, or those of
``--weights``) it prints:

* the **warping error** (Lai et al., ECCV 2018): the mean squared difference between each stylised frame and the
  previous one warped along the *input* clip's flow, over the pixels the flow check keeps
  (:func:`styletransfer.flow.warping_error`); the input clip's own error is its floor;
* each frame's texture distance and structure score by the judge (:mod:`benchmarks.judge`), against that input
  frame: the median texture, and the lowest structure against :data:`~benchmarks.quality.STRUCTURE_FLOOR`;
* seconds per frame (the first frame, a whole job, and the later ones).

``--flows`` first compares the flow methods on the input clips (the floor each reaches, the share of pixels its
check keeps, and its seconds per pair of frames). Writes, under ``--out``, each clip's side-by-side MP4
(input | independent | consistent, one column a weight), a contact strip of frames of every clip, and the
figures as JSON. Asserts nothing.

    python -m benchmarks.video                       # 128 px, 2 s clips at 8 fps
    python -m benchmarks.video --size 256 --seconds 4 --rate 12 --flows
    python -m benchmarks.video --clips coffee --weights 100 200   # two temporal weights against independent frames
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from styletransfer import StyleConfig
from styletransfer.flow import FLOW_METHODS, frame_flows, warping_error
from styletransfer.video_io import output_size, probe_video, read_frames, write_video
from styletransfer.weights import load_bundled_weights

from . import hardware
from .clips import SHOTS, make_clip
from .judge import Judge, judge_network
from .quality import PAINTINGS, STRUCTURE_FLOOR
from .report import machine, machine_line, markdown_table

ROOT = Path(__file__).resolve().parent.parent
#: Each clip's painting.
PAINTING_OF = {
    "cat": "starry_night_van_gogh_1889.jpg",
    "coffee": "great_wave_off_kanagawa_hokusai_1831.jpg",
    "rocket": "composition_vii_kandinsky_1913.jpg",
}
#: The clips' frames before scaling to the output size (3:2).
CLIP_SIZE = (384, 256)
#: Frames of each clip on the contact strip.
STRIP_FRAMES = 4
#: The width of the strip's row labels (pixels).
LABEL_WIDTH = 100


@dataclass(frozen=True)
class Run:
    """One clip stylised at one temporal weight, judged."""

    weight: float
    warping_error: float
    median_texture: float
    lowest_structure: float
    first_frame_seconds: float
    later_frame_seconds: float


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.video", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128, help="frames' long side (default 128)")
    parser.add_argument("--seconds", type=float, default=2.0, help="each clip's length (default 2)")
    parser.add_argument("--rate", type=int, default=8, help="frames per second (default 8)")
    parser.add_argument("--clips", nargs="+", choices=sorted(SHOTS), default=sorted(SHOTS))
    parser.add_argument("--iterations", type=int, help="override the iterations at full size (smoke runs)")
    parser.add_argument("--video-iterations", type=int, help="override the later frames' iterations (smoke runs)")
    parser.add_argument(
        "--weights", nargs="+", type=float, help="temporal weights to run beside 0 (default: the default weight)"
    )
    parser.add_argument("--flows", action="store_true", help="compare the flow methods on the input clips first")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "video")
    hardware.add_device_arguments(parser)
    args = parser.parse_args(argv)
    hardware.check_device(parser, args)
    if args.weights and min(args.weights) <= 0:
        parser.error("--weights: each temporal weight must be above 0 (0, independent frames, always runs)")
    return args


def compare_flows(inputs: dict[str, list[Image.Image]]) -> str:
    """Each flow method's floor (the input's warping error), share of pixels kept, and seconds per pair."""
    rows = []
    for method in FLOW_METHODS:
        for name, frames in inputs.items():
            started = time.perf_counter()
            flows = frame_flows(frames, method)
            seconds = (time.perf_counter() - started) / (2 * len(flows))
            kept = statistics.mean(float(trust.mean()) for _, trust in flows)
            rows.append([method, name, f"{warping_error(frames, flows):.5f}", f"{kept:.1%}", f"{seconds * 1000:.1f}"])
    return markdown_table(["flow", "clip", "input's warping error", "pixels kept", "ms per flow"], rows)


def stylize(stylizer, clip: Path, painting: Path, config: StyleConfig, output: Path) -> tuple[list, list[float]]:
    """The clip's stylised frames and each frame's seconds."""
    frames, seconds, last = [], [], time.perf_counter()
    for event in stylizer.stylize_video(clip, painting, config, output=output):
        if event.frame_done:
            frames.append(event.image)
            now = time.perf_counter()
            seconds.append(now - last)
            last = now
            print(f"  frame {event.frame + 1}/{event.frames}: {seconds[-1]:.1f} s", file=sys.stderr, flush=True)
    return frames, seconds


def side_by_side(columns: list[list[Image.Image]], labels: list[str]) -> list[Image.Image]:
    """Each moment's frames next to each other, labelled."""
    width, height = columns[0][0].size
    joined = []
    for moment in zip(*columns, strict=True):
        frame = Image.new("RGB", (width * len(moment), height + 14), "white")
        draw = ImageDraw.Draw(frame)
        for index, (picture, label) in enumerate(zip(moment, labels, strict=True)):
            frame.paste(picture, (index * width, 14))
            draw.text((index * width + 3, 1), label, fill="black")
        joined.append(frame)
    return joined


def contact_strip(rows: list[tuple[str, list[list[Image.Image]]]], labels: list[str]) -> Image.Image:
    """For each clip, :data:`STRIP_FRAMES` consecutive frames from its middle: input, independent and consistent
    rows, so that flicker between neighbours shows."""
    blocks = []
    for name, columns in rows:
        count = len(columns[0])
        start = max(0, count // 2 - STRIP_FRAMES // 2)
        picked = [column[start : start + STRIP_FRAMES] for column in columns]
        width, height = picked[0][0].size
        block = Image.new("RGB", (LABEL_WIDTH + width * STRIP_FRAMES, height * len(picked)), "white")
        draw = ImageDraw.Draw(block)
        for row, (frames, label) in enumerate(zip(picked, labels, strict=True)):
            draw.text((3, row * height + height // 2 - 6), f"{name}\n{label}", fill="black")
            for index, frame in enumerate(frames):
                block.paste(frame, (LABEL_WIDTH + index * width, row * height))
        blocks.append(block)
    strip = Image.new("RGB", (blocks[0].width, sum(b.height for b in blocks) + 4 * len(blocks)), "white")
    top = 0
    for block in blocks:
        strip.paste(block, (0, top))
        top += block.height + 4
    return strip


def main(argv: list[str] | None = None) -> int:
    """Make the clips, stylise each at each weight, print the tables and write the videos, strip and JSON."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    weights = load_bundled_weights()
    stylizer = hardware.stylizer_for(args, weights)
    network = judge_network(weights, stylizer.device)
    args.out.mkdir(parents=True, exist_ok=True)
    count = round(args.seconds * args.rate)
    clips = {
        name: make_clip(args.out / f"{name}-input.mp4", SHOTS[name], size=CLIP_SIZE, frames=count, rate=args.rate)
        for name in args.clips
    }
    inputs = {}
    for name, clip in clips.items():
        info = probe_video(clip)
        inputs[name] = read_frames(info, output_size(info.size, args.size))
    print(machine_line(machine(stylizer, args.threads)) + "\n")
    if args.flows:
        print(compare_flows(inputs) + "\n")
    overrides = {"iterations": args.iterations, "video_iterations": args.video_iterations}
    default = StyleConfig(size=args.size).updated(**{key: value for key, value in overrides.items() if value})
    weights_run = (0.0, *(args.weights or [default.temporal_weight]))
    labels = ["input", "independent", *(f"consistent ({weight:g})" for weight in weights_run[1:])]
    results: dict[str, list[Run]] = {}
    strip_rows = []
    for name, clip in clips.items():
        painting = PAINTINGS / PAINTING_OF[name]
        flows = frame_flows(inputs[name])
        columns = [inputs[name]]
        results[name] = []
        for weight in weights_run:
            print(f"{name}, temporal weight {weight:g} …", file=sys.stderr, flush=True)
            config = default.updated(temporal_weight=weight, preview_every=0)
            frames, seconds = stylize(stylizer, clip, painting, config, args.out / f"{name}-weight{weight:g}.mp4")
            judged = [
                Judge(network, photo, Image.open(painting).convert("RGB"), frame.size)(frame)
                for photo, frame in zip(inputs[name], frames, strict=True)
            ]
            results[name].append(
                Run(
                    weight=weight,
                    warping_error=warping_error(frames, flows),
                    median_texture=statistics.median(d.texture for d in judged),
                    lowest_structure=min(d.structure for d in judged),
                    first_frame_seconds=seconds[0],
                    later_frame_seconds=statistics.mean(seconds[1:]),
                )
            )
            columns.append(frames)
        rate = probe_video(clip).rate
        write_video(side_by_side(columns, labels), rate, args.out / f"{name}-side-by-side.mp4")
        strip_rows.append((name, columns))
        floor = warping_error(inputs[name], flows)
        print(report(name, floor, results[name]) + "\n", flush=True)
    contact_strip(strip_rows, labels).save(args.out / "video_strip.jpg", quality=85)
    figures = {
        "size": args.size,
        "seconds": args.seconds,
        "rate": args.rate,
        "machine": machine(stylizer, args.threads),
        "clips": {name: [asdict(run) for run in runs] for name, runs in results.items()},
    }
    (args.out / "video.json").write_text(json.dumps(figures, indent=1))
    print(f"Side-by-side videos, video_strip.jpg and video.json in {args.out}", file=sys.stderr)
    return 0


def report(name: str, floor: float, runs: list[Run]) -> str:
    """One clip's table, with the targets: warping error at most a third of independent frames', median texture
    within 15 % of theirs, every frame above the structure floor."""
    independent = runs[0]
    rows = []
    for run in runs:
        ratio = run.warping_error / independent.warping_error if independent.warping_error else float("nan")
        texture = run.median_texture / independent.median_texture - 1
        rows.append(
            [
                "independent (0)" if run.weight == 0 else f"consistent ({run.weight:g})",
                f"{run.warping_error:.5f} ({ratio:.2f}×)",
                f"{run.median_texture:.4f} ({texture:+.0%})",
                f"{run.lowest_structure:.2f}" + ("" if run.lowest_structure >= STRUCTURE_FLOOR else " (below floor)"),
                f"{run.first_frame_seconds:.1f}",
                f"{run.later_frame_seconds:.1f}",
            ]
        )
    header = ["frames", "warping error", "median texture", "lowest structure", "s first frame", "s later frame"]
    return f"{name} (input's warping error, the floor: {floor:.5f})\n\n" + markdown_table(header, rows)


if __name__ == "__main__":
    raise SystemExit(main())
