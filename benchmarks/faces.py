"""Faces kept or not: ``python -m benchmarks.faces``; the suite's portrait pairs with ``faces=off`` and ``faces=auto``.

Each portrait pair of the quality suite (:data:`benchmarks.quality.PORTRAIT_PAIRS`)
is stylized twice with the same settings (``--set`` overrides both), once
without and once with the face setting, and judged: the face score inside the
hand-marked face box (:mod:`benchmarks.face_score`) and the whole picture's
texture distance. It prints one markdown table (with the faces the detector
found in each photo), and writes ``faces_sheet.jpg`` (a row per pair: the photo's
face, the face without and with the setting, then both whole pictures), the
pictures and ``faces.json`` into ``--out``. It asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from styletransfer import load_image
from styletransfer.faces import find_faces

from . import hardware
from .face_score import FACE_BOXES, face_box
from .quality import DEFAULT_SIZE, PORTRAIT_PAIRS, PairResult, SuitePair, prepared, run_pair, suite_pairs
from .run import ROOT, parse_settings, positive_int

#: The two settings compared.
SETTINGS = ("off", "auto")
#: The largest texture distance with faces, as a multiple of the one without, that still counts as the same style.
TEXTURE_TOLERANCE = 1.15


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faces", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=positive_int, default=DEFAULT_SIZE, help=f"output long side ({DEFAULT_SIZE})")
    parser.add_argument(
        "--pairs", type=int, nargs="+", metavar="N", help=f"suite pairs by number (default: {PORTRAIT_PAIRS})"
    )
    parser.add_argument(
        "--set", dest="settings", nargs="+", default=[], metavar="KEY=VALUE", help="StyleConfig overrides (both runs)"
    )
    hardware.add_device_arguments(parser)
    parser.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "faces", help="where files go")
    args = parser.parse_args(argv)
    hardware.check_device(parser, args)
    args.suite = suite_pairs(parser, args.pairs or PORTRAIT_PAIRS)
    if any(pair.photo.name not in FACE_BOXES for pair in args.suite):
        parser.error(f"only portraits have a face box: {', '.join(FACE_BOXES)}.")
    try:
        args.settings = parse_settings(args.settings)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    return args


def comparison_table(results: list[tuple[PairResult, PairResult]], found: dict[str, int]) -> str:
    """One markdown row per pair: the face score and the texture distance without and with faces, and whether the
    pair passes (face structure higher, face content lower, texture within :data:`TEXTURE_TOLERANCE`)."""
    header = [
        "pair", "faces found", "face structure off", "auto", "face content off", "auto", "texture off", "auto",
        "texture ratio", "s off", "s auto", "verdict",
    ]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for off, auto in results:
        ratio = auto.distances.texture / off.distances.texture
        cells = [
            off.pair.name,
            str(found[off.pair.photo.name]),
            f"{off.face.structure:.3f}",
            f"{auto.face.structure:.3f}",
            f"{off.face.content:.3f}",
            f"{auto.face.content:.3f}",
            f"{off.distances.texture:.4f}",
            f"{auto.distances.texture:.4f}",
            f"{ratio:.2f}",
            f"{off.seconds:.0f}",
            f"{auto.seconds:.0f}",
            "kept" if passes(off, auto) else "not better",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def passes(off: PairResult, auto: PairResult) -> bool:
    """Whether the face setting kept more of the face (both parts of its score) at about the same texture."""
    return (
        auto.face.structure > off.face.structure
        and auto.face.content < off.face.content
        and auto.distances.texture <= TEXTURE_TOLERANCE * off.distances.texture
    )


def faces_sheet(results: list[tuple[PairResult, PairResult]], cell: int = 176) -> Image.Image:
    """A row per pair: the photo's face, the face off, the face with ``faces=auto`` (enlarged to ``cell`` pixels),
    then both whole pictures."""
    label_height, gap = 22, 6
    columns = ("photo's face", "faces=off", "faces=auto", "whole, off", "whole, auto")
    width = len(columns) * (cell + gap) + gap
    row_height = label_height + cell + gap
    sheet = Image.new("RGB", (width, label_height + gap + row_height * len(results)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for column, title in enumerate(columns):
        draw.text((gap + column * (cell + gap), 4), title, fill="black", font=font)
    for row, (off, auto) in enumerate(results):
        top = label_height + gap + row * row_height
        label = (
            f"{off.pair.name}   face structure {off.face.structure:.2f} -> {auto.face.structure:.2f}   "
            f"face content {off.face.content:.2f} -> {auto.face.content:.2f}"
        )
        draw.text((gap, top + 3), label, fill="black", font=font)
        box = face_box(FACE_BOXES[off.pair.photo.name], off.picture.size)
        photo = off.photo.convert("RGB").resize(off.picture.size, Image.Resampling.LANCZOS)
        shown = (photo.crop(box), off.picture.crop(box), auto.picture.crop(box), off.picture, auto.picture)
        for column, image in enumerate(shown):
            fitted = image.resize(_fitted_size(image.size, cell), Image.Resampling.LANCZOS)
            left = gap + column * (cell + gap) + (cell - fitted.width) // 2
            sheet.paste(fitted, (left, top + label_height + (cell - fitted.height) // 2))
    return sheet


def _fitted_size(size: tuple[int, int], cell: int) -> tuple[int, int]:
    """``size`` scaled (up or down) to fit a square of ``cell`` pixels."""
    factor = cell / max(size)
    return round(size[0] * factor), round(size[1] * factor)


def _write(args: argparse.Namespace, results: list[tuple[PairResult, PairResult]], found: dict[str, int]) -> None:
    """The sheet and ``faces.json`` of the pairs done so far."""
    faces_sheet(results).save(args.out / "faces_sheet.jpg", quality=88)
    figures = {
        "size": args.size,
        "settings": {key: repr(value) for key, value in args.settings.items()},
        "faces_found": found,
        "pairs": [
            {
                "pair": off.pair.name,
                **{
                    setting: {"seconds": result.seconds, "face": asdict(result.face), **asdict(result.distances)}
                    for setting, result in zip(SETTINGS, (off, auto), strict=True)
                },
                "passes": passes(off, auto),
            }
            for off, auto in results
        ],
    }
    (args.out / "faces.json").write_text(json.dumps(figures, indent=1))


def _file_stem(pair: SuitePair, setting: str) -> str:
    return f"{pair.photo.stem}__{pair.painting.stem}__faces_{setting}"


def main(argv: list[str] | None = None) -> int:
    """Run both settings on each pair, print the table and write the sheet, the pictures and the JSON."""
    args = parse_args(argv)
    suite, stylizer, network, base = prepared(args)
    found = {pair.photo.name: len(find_faces(load_image(pair.photo, max_side=args.size))) for pair in suite}
    results = []
    for pair in suite:
        both = []
        for setting in SETTINGS:
            print(f"stylizing {pair.name} at {args.size} px, faces={setting} …", file=sys.stderr, flush=True)
            result = run_pair(stylizer, network, pair, base.updated(faces=setting))
            result.picture.save(args.out / f"{_file_stem(pair, setting)}.png")
            both.append(result)
        results.append(tuple(both))
        _write(args, results, found)  # after every pair: a long run cut short keeps what it measured
    shown = " ".join(f"{k}={v}" for k, v in args.settings.items())
    print(f"Settings: size={args.size} {shown or '(defaults)'}; faces=off against faces=auto\n")
    print(comparison_table(results, found))
    kept = sum(passes(off, auto) for off, auto in results)
    print(f"\nFace kept better on {kept} of {len(results)} pairs (texture within {TEXTURE_TOLERANCE:g}×).")
    print(f"\nPictures, faces_sheet.jpg and faces.json in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
