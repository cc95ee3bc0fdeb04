"""The command line: ``python -m styletransfer CONTENT STYLE [STYLE ...] -o OUT.png``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from .config import StyleConfig
from .engine import Stylizer
from .images import ImageError
from .weights import WeightsError

_DEFAULTS = StyleConfig()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; defaults come from :class:`StyleConfig`."""
    parser = argparse.ArgumentParser(
        prog="python -m styletransfer",
        description="Repaint a photo in the style of one or more paintings (Gatys et al.).",
    )
    parser.add_argument("content", help="the photo to repaint")
    parser.add_argument("styles", nargs="+", help="one or more style images")
    parser.add_argument("-o", "--output", default="out.png", help="where to save the picture (default: out.png)")
    parser.add_argument("-s", "--size", type=int, default=_DEFAULTS.size, help="long side of the output in pixels")
    parser.add_argument("-i", "--iterations", type=int, default=_DEFAULTS.iterations, help="iterations at full size")
    parser.add_argument(
        "--coarse-iterations", type=int, default=_DEFAULTS.coarse_iterations, help="iterations at each smaller scale"
    )
    parser.add_argument(
        "--scales", type=int, default=_DEFAULTS.scales, help="number of scales, coarse to fine (1: single scale)"
    )
    parser.add_argument("--min-size", type=int, default=_DEFAULTS.min_size, help="long side of the coarsest scale")
    parser.add_argument(
        "--style-strength", type=float, default=_DEFAULTS.style_strength, help="log10 of the style weight"
    )
    parser.add_argument("--content-weight", type=float, default=_DEFAULTS.content_weight)
    parser.add_argument("--tv-weight", type=float, default=_DEFAULTS.tv_weight, help="smoothness")
    parser.add_argument(
        "--style-scale", type=float, default=_DEFAULTS.style_scale, help="style size relative to the output"
    )
    parser.add_argument("--style-weights", type=float, nargs="+", help="blend weights, one per style image")
    parser.add_argument(
        "--style-loss",
        choices=("gram", "wasserstein"),
        default=_DEFAULTS.style_loss,
        help="match each layer's Gram matrix, or its mean and covariance",
    )
    parser.add_argument(
        "--style-layer-weights",
        type=float,
        nargs="+",
        default=_DEFAULTS.style_layer_weights,
        metavar="W",
        help="relative weight of relu1_1 … relu5_1 (five numbers)",
    )
    parser.add_argument("--optimizer", choices=("lbfgs", "adam"), default=_DEFAULTS.optimizer)
    parser.add_argument("--learning-rate", type=float, default=_DEFAULTS.learning_rate, help="Adam's step size")
    parser.add_argument(
        "--preserve-color", choices=("none", "luminance", "histogram"), default=_DEFAULTS.preserve_color
    )
    parser.add_argument("--init", choices=("content", "noise", "style"), default=_DEFAULTS.init)
    parser.add_argument("--pooling", choices=("max", "avg"), default=_DEFAULTS.pooling)
    parser.add_argument("--seed", type=int, default=_DEFAULTS.seed)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the fastest available)")
    parser.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    parser.add_argument(
        "--weights",
        default="auto",
        help="auto (Hub, else bundled), hub, bundled, or a path to a torchvision-layout .safetensors file",
    )
    parser.add_argument(
        "--preview-every", type=int, default=0, metavar="N", help="also save a preview every N iterations"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        config = _config_from(args)
        stylizer = Stylizer(args.weights, device=args.device, precision=args.precision)
        events = stylizer.stylize(args.content, args.styles, config)
        output = Path(args.output)
        _run_with_progress_bar(events, output, stylizer.description)
    except (ImageError, WeightsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def _config_from(args: argparse.Namespace) -> StyleConfig:
    return StyleConfig(
        size=args.size,
        iterations=args.iterations,
        coarse_iterations=args.coarse_iterations,
        scales=args.scales,
        min_size=args.min_size,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        style_strength=args.style_strength,
        content_weight=args.content_weight,
        tv_weight=args.tv_weight,
        style_scale=args.style_scale,
        style_weights=tuple(args.style_weights) if args.style_weights else None,
        style_loss=args.style_loss,
        style_layer_weights=tuple(args.style_layer_weights) if args.style_layer_weights else None,
        preserve_color=args.preserve_color,
        init=args.init,
        pooling=args.pooling,
        seed=args.seed,
        preview_every=args.preview_every,
    )


def _run_with_progress_bar(events, output: Path, description: str) -> None:
    print(description, file=sys.stderr)
    with tqdm(desc="stylizing", unit="it", file=sys.stderr, dynamic_ncols=True) as bar:
        for event in events:
            bar.total = event.total_iterations
            bar.set_postfix_str(
                f"scale {event.scale + 1}/{event.scales} {event.size[0]}×{event.size[1]} "
                f"style {event.losses['style']:.3g} content {event.losses['content']:.3g}",
                refresh=False,
            )
            bar.update(1)
            if event.image is None:
                continue
            target = output if event.final else output.with_name(f"{output.stem}.preview{output.suffix}")
            event.image.save(target)
    print(f"saved {output} ({event.image.width}×{event.image.height}) in {event.elapsed:.1f} s", file=sys.stderr)
