"""The command line: ``python -m benchmarks [options]``; prints markdown tables and writes results into ``--out``."""

from __future__ import annotations

import argparse
import ast
import sys
from collections import deque
from dataclasses import asdict
from pathlib import Path

import torch

from styletransfer import StyleConfig, Stylizer, load_image
from styletransfer.images import resize_long_side
from styletransfer.weights import load_bundled_weights

from . import cuda, hardware
from .compare import BALANCED, HEADLINE, REFERENCE_NAMES, Comparison, Pair, compare
from .judge import judge_network
from .ours import output_size
from .plot import plot_comparison
from .reference import EVALUATIONS, REFERENCES, run_reference
from .report import (
    headline_table,
    layers_table,
    load_warning,
    machine,
    machine_line,
    quality_table,
    reference_table,
    throughput_table,
    write_json,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DEFAULT_PAIRS = ["cat:swirls", "coffee:mosaic"]
#: Output long sides; photos smaller than a size are enlarged to it (see :func:`sized_pair`).
DEFAULT_SIZES = {"cpu": [256, 512], "cuda": [512, 1024, 2048, 4096]}
QUICK = {"sizes": [128], "evaluations": 30, "runs": 1, "pairs": DEFAULT_PAIRS[:1]}
#: The warm-up before anything is timed: one tiny configuration, not reported.
WARM_UP = {"size": 64, "evaluations": 3, "iterations": 2}
#: Our engine's preview interval during the benchmark: only previews can be judged.
PREVIEW_EVERY = 5


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options, with the defaults that depend on ``--device`` and ``--quick`` filled in."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time-to-quality of our engine against the reference (see benchmarks/README.md).",
    )
    parser.add_argument(
        "--sizes", type=positive_int, nargs="+", help="output long sides (default: 256 512 on cpu, 512…4096 on cuda)"
    )
    parser.add_argument(
        "--pairs",
        nargs="+",
        metavar="CONTENT:STYLE",
        help="example pairs, e.g. cat:swirls = examples/cat.jpg and examples/style_swirls.jpg",
    )
    parser.add_argument("--content", type=Path, help="a content image file (with --style, instead of --pairs)")
    parser.add_argument("--style", type=Path, help="a style image file (with --content)")
    parser.add_argument("--runs", type=positive_int, help="runs of our engine per configuration (default 3)")
    parser.add_argument(
        "--evaluations", type=positive_int, help=f"the reference's L-BFGS evaluations (default {EVALUATIONS})"
    )
    parser.add_argument(
        "--references",
        nargs="+",
        choices=REFERENCE_NAMES,
        default=list(REFERENCE_NAMES),
        help=f"the references to run (default all; {HEADLINE} sets the headline)",
    )
    hardware.add_device_arguments(parser)
    parser.add_argument(
        "--threads", type=positive_int, default=2, help="torch CPU threads, the same for both (default 2)"
    )
    parser.add_argument(
        "--peak-tflops",
        nargs="+",
        metavar="[PRECISION=]TFLOPS",
        help="the device's peak TFLOP/s to compare with: one number, or per precision (bf16=989 tf32=494 fp32=67); "
        f"default on cuda: the known GPUs' dense peaks ({', '.join(hardware.KNOWN_GPUS)})",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 128 px, 30 evaluations, one run, one pair")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="where results.json and the PNGs go"
    )
    parser.add_argument(
        "--set",
        dest="settings",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="StyleConfig overrides for our engine, e.g. iterations=100 optimizer=adam",
    )
    args = parser.parse_args(argv)
    if (args.content is None) != (args.style is None):
        parser.error("--content and --style go together.")
    if args.content is not None and args.pairs:
        parser.error("Use either --pairs or --content/--style.")
    quick = QUICK if args.quick else {}
    args.sizes = args.sizes or quick.get("sizes") or DEFAULT_SIZES[args.device]
    args.pairs = args.pairs or quick.get("pairs") or DEFAULT_PAIRS
    args.runs = args.runs or quick.get("runs") or 3
    args.evaluations = args.evaluations or quick.get("evaluations") or EVALUATIONS
    hardware.check_device(parser, args)
    try:
        args.peak_tflops = hardware.parse_peaks(args.peak_tflops or [])
    except ValueError as error:
        parser.error(str(error))
    try:
        args.settings = parse_settings(args.settings)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    return args


def parse_settings(items: list[str]) -> dict[str, object]:
    """``key=value`` strings as StyleConfig overrides; values are Python literals, else strings."""
    settings: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"A setting is key=value; got {item!r}.")
        if key == "size":
            raise ValueError("The size is not a setting here: give it with the command's size option.")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        settings[key] = tuple(value) if isinstance(value, list) else value
    StyleConfig().updated(**settings)  # fail now, not after the reference has run
    return settings


def load_pairs(args: argparse.Namespace) -> list[Pair]:
    """The content/style pairs to measure, from files or from ``examples/``."""
    if args.content is not None:
        return [Pair(f"{args.content.stem}:{args.style.stem}", load_image(args.content), load_image(args.style))]
    pairs = []
    for name in args.pairs:
        content, _, style = name.partition(":")
        paths = EXAMPLES / f"{content}.jpg", EXAMPLES / f"style_{style}.jpg"
        missing = [str(path) for path in paths if not path.exists()]
        if missing:
            raise SystemExit(f"No such example image: {', '.join(missing)} (pairs are CONTENT:STYLE, e.g. cat:swirls).")
        pairs.append(Pair(name, *(load_image(path) for path in paths)))
    return pairs


def sized_pair(pair: Pair, size: int) -> Pair:
    """``pair`` with its photo enlarged to ``size`` on the long side when smaller, as :mod:`benchmarks.tiling` does:
    the engine never paints beyond the photo's size, so without it every size above the photo's would measure the
    photo's own size again."""
    if max(pair.content.size) >= size:
        return pair
    return Pair(pair.name, resize_long_side(pair.content, size), pair.style)


def planned_sizes(pairs: list[Pair], sizes: list[int], config: StyleConfig) -> list[tuple[int, int]]:
    """The output (width, height) of every configuration, in the order they run."""
    return [output_size(sized_pair(pair, size).content, config.updated(size=size)) for size in sizes for pair in pairs]


def warm_up(pair: Pair, config: StyleConfig, stylizers: list[Stylizer]) -> None:
    """Run a few untimed evaluations (:data:`WARM_UP`) of a reference and of our engine in each of ``stylizers``
    (their precisions), so that no timed run pays for one-off costs: CUDA's context, kernels and allocator, cuDNN's
    first calls. The judge is never timed."""
    tiny = config.updated(size=WARM_UP["size"], scales=1, iterations=WARM_UP["iterations"], preview_every=0)
    size = output_size(pair.content, tiny)
    weights = REFERENCES["tutorial"]
    run_reference(
        stylizers[0].weights, pair.content, pair.style, size, stylizers[0].device, weights, WARM_UP["evaluations"]
    )
    for stylizer in stylizers:
        deque(stylizer.stylize(pair.content, pair.style, tiny), maxlen=0)


def save_outputs(comparison: Comparison, out: Path) -> dict[str, str]:
    """Write the plot and the final pictures (each reference's, our first run's) of one configuration.

    Returns the file names by what they show.
    """
    stem = f"{comparison.size[0]}x{comparison.size[1]}_{comparison.pair.replace(':', '_')}"
    pictures = {f"{name}_reference": judged.run.image for name, judged in comparison.references.items()}
    pictures["ours"] = comparison.ours[0].image
    files = {"plot": f"plot_{stem}.png"}
    plot_comparison(comparison, out / files["plot"])
    for what, picture in pictures.items():
        files[f"{what}_image"] = f"{what}_{stem}.png"
        picture.save(out / files[f"{what}_image"])
    return files


def main(argv: list[str] | None = None) -> int:
    """Run every configuration, print the tables and write the results."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    pairs = load_pairs(args)
    weights = load_bundled_weights()
    stylizer = hardware.stylizer_for(args, weights)
    fp32 = Stylizer(weights, device=stylizer.device, precision="fp32")
    network = judge_network(weights, stylizer.device)
    base_config = StyleConfig(preview_every=PREVIEW_EVERY).updated(**args.settings)
    if cuda.is_cuda(stylizer.device):
        args.peak_tflops = args.peak_tflops or hardware.known_peaks(cuda.name(stylizer.device))
    precisions = {"references": hardware.fp32_kind(stylizer.device), "ours": stylizer.precision}
    if stylizer.precision == "fp32":
        precisions["ours"] = precisions["references"]
    context = {  # before the runs: the engine's revision is the one imported now
        "machine": {**machine(stylizer, args.threads), **hardware.describe(stylizer.device, args.peak_tflops)},
        "command": " ".join(["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]),
        "engine_config": {k: v for k, v in asdict(base_config).items() if k != "size"},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    print("warming up …", file=sys.stderr, flush=True)
    warm_up(pairs[0], base_config, [stylizer, fp32])
    comparisons, files = [], []
    for size in args.sizes:
        for pair in pairs:
            print(f"measuring {pair.name} at {size} px …", file=sys.stderr, flush=True)
            comparison = compare(
                sized_pair(pair, size),
                base_config.updated(size=size),
                stylizer,
                network,
                evaluations=args.evaluations,
                runs=args.runs,
                references=tuple(args.references),
                fp32=fp32,
            )
            comparisons.append(comparison)
            files.append(save_outputs(comparison, args.out))
    write_json(args.out / "results.json", comparisons, files, context)
    print(machine_line(context["machine"]) + "\n")
    if HEADLINE in args.references:
        print(
            "The headline: our default job against the same-objective reference (the seed's design minimising our "
            "own objective), to our final picture's objective:\n"
        )
        print(headline_table(comparisons) + "\n")
    if BALANCED in args.references:
        print(f"For information, against the {BALANCED} reference ({REFERENCES[BALANCED]}), to its judged quality:\n")
        print(quality_table(comparisons, BALANCED) + "\n")
    for name in [name for name in REFERENCES if name != BALANCED and name in args.references]:
        print(f"For information, against the {name} reference ({REFERENCES[name]}):\n")
        print(reference_table(comparisons, name) + "\n")
    print("Style distance per layer of the final pictures:\n")
    print(layers_table(comparisons) + "\n")
    print(throughput_table(comparisons, args.peak_tflops, precisions))
    warning = load_warning(comparisons, args.threads)
    if warning:
        print(f"\n{warning}")
    print(f"\nResults and plots in {args.out}", file=sys.stderr)
    return 0
