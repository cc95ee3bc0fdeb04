"""Settings side by side: ``python -m benchmarks.balance``; prints one markdown table and asserts nothing.

Where ``python -m benchmarks`` asks how fast the default settings reach the
reference's quality, this asks what a change of settings does to the picture:
each variant (a name and StyleConfig overrides) runs once on one pair at one
size, and the table gives its final distances, the iteration (and time) at
which it first reached the reference's distances, and whether its final
picture is at least as good as the first variant's on both distances. Put the
baseline first, e.g. the settings of an earlier revision::

    python -m benchmarks.balance --size 512 --content photo.jpg --style painting.jpg \\
        --variant before style_strength=1 coarse_iterations=300 iterations=200 --variant today

Without ``--target`` the reference runs once first to set it (minutes on a CPU).
Iteration counts do not depend on the machine; the times are from one run each.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from styletransfer import StyleConfig, Stylizer
from styletransfer.weights import load_bundled_weights

from .judge import Distances, Judge, judge_network
from .ours import OursRun, output_size, run_ours
from .reference import EVALUATIONS, run_reference
from .run import PREVIEW_EVERY, load_pairs, parse_settings, positive_int


@dataclass(frozen=True)
class Variant:
    """A named set of StyleConfig overrides."""

    name: str
    settings: dict[str, object]

    @property
    def label(self) -> str:
        """The overrides as they were typed, or "defaults"."""
        return " ".join(f"{key}={value}" for key, value in self.settings.items()) or "defaults"


def parse_variant(tokens: list[str]) -> Variant:
    """``NAME [KEY=VALUE ...]`` from the command line as a :class:`Variant`."""
    name, *items = tokens
    if "=" in name:
        raise ValueError(f"A variant starts with its name; got {name!r}.")
    return Variant(name, parse_settings(items))


def parse_target(text: str) -> Distances:
    """``STYLE,CONTENT`` as the judge's distances to reach."""
    try:
        style, content = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected STYLE,CONTENT, e.g. 0.0247,2.29; got {text!r}") from None
    return Distances(style, content)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options; ``--variant`` may be given several times and at least once."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.balance", description="Settings side by side, judged alike (see the module's doc)."
    )
    parser.add_argument("--size", type=positive_int, default=512, help="output long side (default 512)")
    parser.add_argument("--pair", default="cat:swirls", help="an example pair CONTENT:STYLE (default cat:swirls)")
    parser.add_argument("--content", type=Path, help="a content image file (with --style, instead of --pair)")
    parser.add_argument("--style", type=Path, help="a style image file (with --content)")
    parser.add_argument(
        "--variant",
        dest="variants",
        action="append",
        nargs="+",
        required=True,
        metavar=("NAME", "KEY=VALUE"),
        help="a name and StyleConfig overrides; the first variant is the baseline",
    )
    parser.add_argument("--target", type=parse_target, help="STYLE,CONTENT to reach (default: run the reference)")
    parser.add_argument(
        "--evaluations",
        type=positive_int,
        default=EVALUATIONS,
        help=f"the reference's evaluations (default {EVALUATIONS})",
    )
    parser.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args(argv)
    if (args.content is None) != (args.style is None):
        parser.error("--content and --style go together.")
    args.pairs = [args.pair]
    try:
        args.variants = [parse_variant(tokens) for tokens in args.variants]
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    return args


def balance_table(variants: list[Variant], runs: list[OursRun], target: Distances) -> str:
    """One markdown row per variant, the first one the baseline of the last column."""
    baseline = runs[0].final
    header = (
        "| variant | settings | iterations | whole job (s) | reference quality at | final style | final content "
        "| both ≤ first's |"
    )
    lines = [header, "|" + " --- |" * 8]
    for variant, run in zip(variants, runs, strict=True):
        final = run.final
        reached = "never" if run.reached is None else f"iteration {run.reached.iteration} ({run.reached.seconds:.1f} s)"
        as_good = "yes" if final.style <= baseline.style and final.content <= baseline.content else "no"
        lines.append(
            f"| {variant.name} | {variant.label} | {run.iterations} | {run.seconds:.1f} | {reached} "
            f"| {final.style:.4g} | {final.content:.4g} | {as_good} |"
        )
    lines.append(f"\nReference quality: style ≤ {target.style:.4g} and content ≤ {target.content:.4g}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the reference (unless ``--target``), then each variant once, and print the table."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    pair = load_pairs(args)[0]
    weights = load_bundled_weights()
    stylizer = Stylizer(weights, device="cpu")
    base = StyleConfig(size=args.size, preview_every=PREVIEW_EVERY)
    size = output_size(pair.content, base)
    judge = Judge(judge_network(weights, stylizer.device), pair.content, pair.style, size)
    target = args.target
    if target is None:
        print(f"running the reference at {size[0]}×{size[1]} …", file=sys.stderr, flush=True)
        reference = run_reference(
            weights, pair.content, pair.style, size, stylizer.device, args.evaluations, snapshot_every=args.evaluations
        )
        target = judge.timeline(reference.snapshots[-1:])[-1].distances
    runs = []
    for variant in args.variants:
        print(f"running {variant.name} …", file=sys.stderr, flush=True)
        runs.append(run_ours(stylizer, pair.content, pair.style, base.updated(**variant.settings), judge, target))
    print(f"{pair.name} at {size[0]}×{size[1]}, {args.threads} threads\n")
    print(balance_table(args.variants, runs, target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
