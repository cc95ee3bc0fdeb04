"""L-BFGS's jumps at the coarsest scale: ``python -m benchmarks.jumps``; prints one markdown table, asserts nothing.

Every job starts at its coarsest scale, and there L-BFGS (one evaluation per step, no line search) has been
seen to throw the loss up by orders of magnitude: sometimes it finds its way back down, sometimes it stays
stuck and the picture never takes the painting's style. This runs that scale alone for each pair of the
quality suite (the photo and the painting at ``--size`` px, ``--iterations`` steps, as a job's first scale
runs them) with the defaults and any ``--set`` overrides, and prints each pair's first, lowest and final
loss and its **largest jump**: the most the loss rose above the lowest before it. A lowest loss far above
the same pair's with other settings is a run that never recovered from its jump::

    python -m benchmarks.jumps --set 'style_layer_weights=(256,64,64,4,1)'
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch

from styletransfer import StyleConfig, Stylizer, load_image

from . import hardware
from .quality import SuitePair, pairs_on_this_machine, suite_pairs
from .report import markdown_table
from .run import parse_settings, positive_int

DEFAULTS = StyleConfig()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.jumps", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", type=positive_int, default=DEFAULTS.min_size, help="the coarsest scale's long side (default: a job's)"
    )
    parser.add_argument(
        "--iterations",
        type=positive_int,
        default=DEFAULTS.coarse_iterations,
        help="L-BFGS steps (default: a job's at each coarse scale)",
    )
    parser.add_argument("--pairs", type=int, nargs="+", metavar="N", help="suite pairs by number (default: all)")
    parser.add_argument(
        "--set", dest="settings", nargs="+", default=[], metavar="KEY=VALUE", help="StyleConfig overrides"
    )
    hardware.add_device_arguments(parser)
    parser.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args(argv)
    hardware.check_device(parser, args)
    args.suite = suite_pairs(parser, args.pairs)
    try:
        args.settings = parse_settings(args.settings)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    return args


def largest_jump(losses: Sequence[float]) -> float:
    """The largest ratio of a loss to the lowest loss before it (1.0 when the loss never rose)."""
    lowest, largest = losses[0], 1.0
    for loss in losses[1:]:
        largest = max(largest, loss / lowest)
        lowest = min(lowest, loss)
    return largest


def coarsest_scale_losses(stylizer: Stylizer, pair: SuitePair, config: StyleConfig) -> list[float]:
    """The total loss after each step of ``config`` (a single scale) on ``pair``."""
    photo, painting = load_image(pair.photo), load_image(pair.painting)
    return [event.losses["total"] for event in stylizer.stylize(photo, painting, config)]


def main(argv: list[str] | None = None) -> int:
    """Run the coarsest scale of each pair and print the table."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    suite = pairs_on_this_machine(args.suite)
    stylizer = hardware.stylizer_for(args, "bundled")
    config = StyleConfig(size=args.size, preview_every=0).updated(
        **{**args.settings, "scales": 1, "iterations": args.iterations}
    )
    rows = []
    for pair in suite:
        print(f"running {pair.name} …", file=sys.stderr, flush=True)
        losses = coarsest_scale_losses(stylizer, pair, config)
        rows.append(
            [pair.name, f"{losses[0]:.3g}", f"{min(losses):.3g}", f"{losses[-1]:.3g}", f"{largest_jump(losses):.3g}"]
        )
    settings = " ".join(f"{key}={value}" for key, value in args.settings.items()) or "(defaults)"
    print(f"{args.size} px, {args.iterations} L-BFGS steps, settings: {settings}\n")
    print(markdown_table(["pair", "first loss", "lowest loss", "final loss", "largest jump"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
