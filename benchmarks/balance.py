"""Settings side by side: ``python -m benchmarks.balance``; prints one markdown table and asserts nothing.

Where ``python -m benchmarks`` asks how fast the default settings reach the
references' quality, this asks what a change of settings does to the picture:
each variant (a name and StyleConfig overrides) runs once on one pair at one
size, and the table gives its final verdict (the paper's style distance, the
texture and content distances, the structure score and its worst region), the
iteration (and time) at which it first reached the balanced reference's quality
(texture and content distances, each at most the reference's), and whether its
final picture is at least as good as the first variant's on texture and content
both. Put the baseline first, e.g. the settings of an earlier revision::

    python -m benchmarks.balance --size 512 --content photo.jpg --style painting.jpg \\
        --variant before style_strength=1 coarse_iterations=300 iterations=200 --variant today

Without ``--target`` the balanced reference runs once first to set it (minutes
on a CPU). Iteration counts do not depend on the machine; the times are from
one run each.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from styletransfer import StyleConfig
from styletransfer.weights import load_bundled_weights

from . import hardware
from .compare import BALANCED, STYLE_MEASURES, judged_reference
from .judge import Judge, Target, judge_network
from .ours import OursRun, output_size, run_ours
from .reference import EVALUATIONS
from .report import markdown_table
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


def parse_target(text: str) -> Target:
    """``TEXTURE,CONTENT`` as the balanced reference's criterion: the texture and content distances to reach."""
    try:
        texture, content = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TEXTURE,CONTENT, e.g. 0.02,0.78; got {text!r}") from None
    return Target(BALANCED, STYLE_MEASURES[BALANCED], texture, content)


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
    parser.add_argument(
        "--target",
        type=parse_target,
        metavar="TEXTURE,CONTENT",
        help=f"the {BALANCED} reference's texture and content distances, to reach (default: run that reference)",
    )
    parser.add_argument(
        "--evaluations",
        type=positive_int,
        default=EVALUATIONS,
        help=f"the {BALANCED} reference's evaluations (default {EVALUATIONS})",
    )
    hardware.add_device_arguments(parser)
    parser.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--out", type=Path, help="a folder for each variant's final picture, NAME.png, to look at")
    args = parser.parse_args(argv)
    hardware.check_device(parser, args)
    if (args.content is None) != (args.style is None):
        parser.error("--content and --style go together.")
    args.pairs = [args.pair]
    try:
        args.variants = [parse_variant(tokens) for tokens in args.variants]
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    return args


BALANCE_HEADER = [
    "variant",
    "settings",
    "iterations",
    "whole job (s)",
    "reference quality at",
    "final style",
    "final texture",
    "final content",
    "structure",
    "worst region",
    "both ≤ first's",
]


def _reached(run: OursRun, target: Target) -> str:
    point = run.reached[target.name]
    return "never" if point is None else f"iteration {point.iteration} ({point.seconds:.1f} s)"


def balance_table(variants: list[Variant], runs: list[OursRun], target: Target) -> str:
    """One markdown row per variant, the first one the baseline of the last column (texture and content)."""
    baseline = Target.of("first", runs[0].final.distances, STYLE_MEASURES[BALANCED])
    rows = []
    for variant, run in zip(variants, runs, strict=True):
        final = run.final.distances
        rows.append(
            [
                variant.name,
                variant.label,
                str(run.iterations),
                f"{run.seconds:.1f}",
                _reached(run, target),
                f"{final.style:.4g}",
                f"{final.texture:.4g}",
                f"{final.content:.4g}",
                f"{final.structure:.3f}",
                f"{final.worst_region:.3f}",
                "yes" if baseline.met_by(final) else "no",
            ]
        )
    return markdown_table(BALANCE_HEADER, rows) + f"\n\nReference quality ({target.name}): {target}."


def main(argv: list[str] | None = None) -> int:
    """Run the balanced reference (unless ``--target``), then each variant once, and print the table."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    pair = load_pairs(args)[0]
    weights = load_bundled_weights()
    stylizer = hardware.stylizer_for(args, weights)
    base = StyleConfig(size=args.size, preview_every=PREVIEW_EVERY)
    size = output_size(pair.content, base)
    judge = Judge(judge_network(weights, stylizer.device), pair.content, pair.style, size)
    target = args.target
    if target is None:
        print(f"running the {BALANCED} reference at {size[0]}×{size[1]} …", file=sys.stderr, flush=True)
        target = judged_reference(BALANCED, pair, stylizer, judge, args.evaluations, curve_points=1).target
    runs = []
    for variant in args.variants:
        print(f"running {variant.name} …", file=sys.stderr, flush=True)
        runs.append(run_ours(stylizer, pair.content, pair.style, base.updated(**variant.settings), judge, [target]))
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            runs[-1].image.save(args.out / f"{variant.name}.png")
    print(f"{pair.name} at {size[0]}×{size[1]}, {args.threads} threads\n")
    print(balance_table(args.variants, runs, target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
