"""The command line: ``python -m styletransfer CONTENT STYLE [STYLE ...] -o OUT.png``; a video as the content
(recognised by its content, whatever its name) makes a video: ``python -m styletransfer clip.mp4 painting.jpg -o
out.mp4``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .config import SETTINGS, StyleConfig
from .engine import OutOfMemoryError, Stylizer
from .images import ImageError
from .memory import parse_memory, readable_bytes
from .settings import Setting
from .video_io import is_video
from .weights import WeightsError


def _memory_size(text: str) -> int:
    """Bytes from a size such as ``2GB``, as argparse wants a parsing error."""
    try:
        return parse_memory(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


#: How each kind of setting is read from the command line (see :class:`~styletransfer.settings.Setting`).
_ARGUMENT_SHAPES: dict[str, dict[str, Any]] = {
    "whole": {"type": int},
    "number": {"type": float},
    "bytes": {"type": _memory_size, "metavar": "SIZE"},
    "choice": {},
    "numbers": {"type": float, "nargs": "+", "metavar": "W"},
    "names": {"nargs": "+", "metavar": "LAYER"},
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: the images and files, then one flag per setting of :data:`SETTINGS`."""
    parser = argparse.ArgumentParser(
        prog="python -m styletransfer",
        description="Repaint a photo in the style of one or more paintings (Gatys et al.).",
    )
    parser.add_argument("content", help="the photo to repaint, or a video clip")
    parser.add_argument("styles", nargs="+", help="one or more style images")
    parser.add_argument(
        "-o",
        "--output",
        help="where to save the picture (default: out.png; previews go to OUT.preview.png) or the video (default: "
        "out.mp4, H.264 at the clip's frame rate, with its sound)",
    )
    regions = parser.add_argument_group("regions", "where each style paints; white is the region (any size)")
    regions.add_argument(
        "--mask",
        action="append",
        default=[],
        metavar="FILE",
        help="the region of a style image on the photo; one per style, in order (repeat the flag)",
    )
    regions.add_argument("--keep-mask", metavar="FILE", help="a region that stays the photo")
    regions.add_argument(
        "--style-mask",
        action="append",
        default=[],
        metavar="FILE",
        help="the part of a style image that feeds its region; one per style, in order (repeat the flag)",
    )
    add_engine_arguments(parser)
    return parser


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the device, precision and weights flags, then one flag per setting of :data:`SETTINGS`, to ``parser``."""
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the fastest available)")
    parser.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    parser.add_argument(
        "--weights",
        default="auto",
        help="auto (Hub, else bundled), hub, bundled, or a path to a torchvision-layout .safetensors file",
    )
    settings = parser.add_argument_group("settings", "the stylization's settings (see StyleConfig)")
    for described in SETTINGS.values():
        flags = [described.short_flag, described.flag] if described.short_flag else [described.flag]
        settings.add_argument(
            *flags,
            dest=described.name,
            default=described.default,
            choices=described.values or None,
            help=f"{described.help} ({_range_of(described)}default: {_shown(described.default)})",
            **_ARGUMENT_SHAPES[described.kind],
        )


def config_from_args(args: argparse.Namespace) -> StyleConfig:
    """The :class:`StyleConfig` that parsed arguments stand for; ``ValueError`` for values out of range."""
    return StyleConfig(**{name: getattr(args, name) for name in SETTINGS})


def _range_of(described: Setting) -> str:
    if described.low is None:
        return ""
    if described.kind == "whole":
        return f"{described.low} to {described.high}; "
    if described.kind == "bytes":
        return f"{readable_bytes(described.low)} to {readable_bytes(described.high)}, as 2GB or 512MB; "
    return f"{described.low:g} to {described.high:g}; "


def _shown(default: Any) -> str:
    if default is None:
        return "none"
    return " ".join(map(str, default)) if isinstance(default, tuple) else str(default)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code: 0, 2 for bad input, 1 when the device ran out of
    memory, 130 when interrupted."""
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        stylizer = Stylizer(args.weights, device=args.device, precision=args.precision)
        if is_video(args.content):
            _run_video(stylizer, args, config)
            return 0
        events = stylizer.stylize(
            args.content,
            args.styles,
            config,
            masks=args.mask,
            keep_mask=args.keep_mask,
            style_masks=args.style_mask,
        )
        output = Path(args.output or "out.png")
        _run_with_progress_bar(events, output, stylizer.description)
    except (ImageError, WeightsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OutOfMemoryError as error:  # the engine has released the job's memory and says what to try
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def _run_with_progress_bar(events, output: Path, description: str) -> None:
    """Follow the job with a bar of its work done (each scale's pixels × iterations, tiles' margins counted), so
    that its time left holds when the last scales cost far more per iteration; save previews and the picture."""
    print(description, file=sys.stderr)
    bar_format = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]{postfix}"
    with tqdm(desc="stylizing", total=1.0, bar_format=bar_format, file=sys.stderr, dynamic_ncols=True) as bar:
        for event in events:
            tiles = f" in {event.tiles} tiles" if event.tiles > 1 else ""
            bar.set_postfix_str(
                f"iteration {event.iteration}/{event.total_iterations} · scale {event.scale + 1}/{event.scales} "
                f"{event.size[0]}×{event.size[1]}{tiles} · style {event.losses['style']:.3g} "
                f"content {event.losses['content']:.3g}",
                refresh=False,
            )
            bar.update(event.fraction_done - bar.n)
            if event.image is None:
                continue
            target = output if event.final else output.with_name(f"{output.stem}.preview{output.suffix}")
            event.image.save(target)
    print(f"saved {output} ({event.image.width}×{event.image.height}) in {event.elapsed:.1f} s", file=sys.stderr)


def _run_video(stylizer: Stylizer, args: argparse.Namespace, config: StyleConfig) -> None:
    """Repaint the clip ``args.content`` frame by frame into ``args.output`` (default ``out.mp4``), with a bar over
    the frames; Ctrl-C keeps the frames made so far as a shorter video."""
    output = Path(args.output or "out.mp4")
    events = stylizer.stylize_video(args.content, args.styles, config, output=output)
    print(stylizer.description, file=sys.stderr)
    with tqdm(desc="frames", total=None, unit="frame", file=sys.stderr, dynamic_ncols=True) as bar:
        try:
            for event in events:
                bar.total = event.frames
                if event.final:
                    break
                if event.frame_done:
                    bar.update(1)
                bar.set_postfix_str(
                    f"frame {event.frame + 1}/{event.frames} · iteration {event.progress.iteration}/"
                    f"{event.progress.total_iterations}",
                    refresh=False,
                )
        finally:
            events.close()  # on Ctrl-C: the frames so far, as a shorter video
    note = f" ({event.note})" if event.note else ""
    print(f"saved {output}: {event.frame} frames{note} in {event.elapsed:.1f} s", file=sys.stderr)
