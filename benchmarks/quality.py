"""The quality suite: ``python -m benchmarks.quality``; many photo × painting pairs, one contact sheet.

Every pair is stylized with the engine's defaults (plus any ``--set`` overrides)
at the app's CPU default size, and judged: the paper's style distance, the
texture distance, the content distance, each style layer's distance and the
structure score (see :mod:`benchmarks.judge` and :mod:`benchmarks.structure`);
portraits also by the face score inside a face box marked by hand
(:mod:`benchmarks.face_score`).
It prints one markdown table, names the pairs whose structure falls below the
floors, and writes each picture, ``contact_sheet.png`` (photo | painting |
picture, a row per pair) and ``quality.json`` into ``--out``. It asserts
nothing: numbers do not see a transplanted object, so look at the sheet.

Photos come from ``examples/`` and, for local checks, from ``../shared/images/``
(never shipped; pairs whose files are missing are skipped with a notice);
paintings from ``examples/paintings/``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from styletransfer import StyleConfig, Stylizer, load_image
from styletransfer.features import VGG19Features
from styletransfer.weights import load_bundled_weights

from . import hardware
from .face_score import FACE_BOXES, FaceJudge, FaceScore
from .judge import TEXTURE_LAYERS, Distances, Judge, judge_network
from .ours import output_size
from .run import ROOT, parse_settings, positive_int

EXAMPLES = ROOT / "examples"
PAINTINGS = EXAMPLES / "paintings"
LOCAL_PHOTOS = ROOT.parent / "shared" / "images"

#: The app's default size on a CPU (webapp.options.CPU_DEFAULTS).
DEFAULT_SIZE = 384
#: The structure score under which a picture has lost its photo (set by looking at contact sheets: see README).
STRUCTURE_FLOOR = 0.6
#: The worst region's structure score under which part of the photo is lost (an object painted over it).
WORST_REGION_FLOOR = 0.4


@dataclass(frozen=True)
class SuitePair:
    """A photo and a painting of the suite, by file."""

    photo: Path
    painting: Path

    @property
    def name(self) -> str:
        """``photo x painting`` (the sheet's font has no ×)."""
        return f"{self.photo.stem} x {self.painting.stem}"


#: Landscapes, a city, animals, a still life, a portrait and a launch; against swirling, figurative, flat-print,
#: abstract and impressionist paintings. The Scream and The Great Wave carry strong objects of their own. Then
#: (13–19) portraits: the astronaut with three more paintings, and a painted face, the Mona Lisa, with four.
PORTRAIT_PAINTINGS = (
    "great_wave_off_kanagawa_hokusai_1831.jpg",
    "the_scream_munch_1893.jpg",
    "starry_night_van_gogh_1889.jpg",
    "composition_vii_kandinsky_1913.jpg",
)
SUITE = tuple(
    SuitePair(photo, PAINTINGS / painting)
    for photo, paintings in (
        (LOCAL_PHOTOS / "tubingen.jpg", ("great_wave_off_kanagawa_hokusai_1831.jpg", "starry_night_van_gogh_1889.jpg")),
        (LOCAL_PHOTOS / "golden_gate.jpg", ("the_scream_munch_1893.jpg", "composition_vii_kandinsky_1913.jpg")),
        (EXAMPLES / "cat.jpg", ("starry_night_over_the_rhone_van_gogh_1888.jpg", "the_scream_munch_1893.jpg")),
        (EXAMPLES / "coffee.jpg", ("water_lilies_monet_1919.jpg", "great_wave_off_kanagawa_hokusai_1831.jpg")),
        (EXAMPLES / "astronaut.jpg", ("the_scream_munch_1893.jpg", "wheat_field_with_cypresses_van_gogh_1889.jpg")),
        (EXAMPLES / "rocket.jpg", ("starry_night_van_gogh_1889.jpg", "composition_vii_kandinsky_1913.jpg")),
        (EXAMPLES / "astronaut.jpg", PORTRAIT_PAINTINGS[:1] + PORTRAIT_PAINTINGS[2:]),
    )
    for painting in paintings
)
#: The portrait pairs: the portrait photo with four paintings (the astronaut with The Scream is pair 9).
PORTRAIT_PAIRS = (9, 13, 14, 15)
#: ``--quick``: three shipped pairs at 128 px, for CI.
QUICK_PAIRS = (5, 7, 11)
QUICK_SIZE = 128


@dataclass(frozen=True)
class PairResult:
    """One pair's picture and verdict."""

    pair: SuitePair
    photo: Image.Image
    painting: Image.Image
    picture: Image.Image
    distances: Distances
    seconds: float
    face: FaceScore | None = None
    """The face score, for a portrait (a photo in :data:`~benchmarks.face_score.FACE_BOXES`)."""

    @property
    def below_floor(self) -> list[str]:
        """Which structure floors this picture falls below."""
        failures = []
        if self.distances.structure < STRUCTURE_FLOOR:
            failures.append(f"structure {self.distances.structure:.2f} < {STRUCTURE_FLOOR}")
        if self.distances.worst_region < WORST_REGION_FLOOR:
            failures.append(f"worst region {self.distances.worst_region:.2f} < {WORST_REGION_FLOOR}")
        return failures


def suite_pairs(parser: argparse.ArgumentParser, numbers: Iterable[int] | None) -> list[SuitePair]:
    """The suite's pairs by number, from 1 (``None``: all); a number out of range is the ``parser``'s error."""
    numbers = list(numbers or range(1, len(SUITE) + 1))
    if any(not 1 <= n <= len(SUITE) for n in numbers):
        parser.error(f"pairs are numbered 1 to {len(SUITE)}.")
    return [SUITE[n - 1] for n in numbers]


def pairs_on_this_machine(pairs: list[SuitePair]) -> list[SuitePair]:
    """The pairs whose files are here, saying which are skipped (the local photos are never shipped)."""
    missing = [pair for pair in pairs if not (pair.photo.exists() and pair.painting.exists())]
    for pair in missing:
        print(f"skipping {pair.name}: {pair.photo} is not on this machine (local photos are never shipped)")
    present = [pair for pair in pairs if pair not in missing]
    if not present:
        raise SystemExit("No pair of the suite has its files here.")
    return present


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=positive_int, help=f"output long side (default {DEFAULT_SIZE})")
    parser.add_argument("--quick", action="store_true", help=f"three shipped pairs at {QUICK_SIZE} px (CI)")
    parser.add_argument(
        "--pairs", type=int, nargs="+", metavar="N", help=f"suite pairs by number, 1–{len(SUITE)} (default: all)"
    )
    parser.add_argument(
        "--set", dest="settings", nargs="+", default=[], metavar="KEY=VALUE", help="StyleConfig overrides"
    )
    hardware.add_device_arguments(parser)
    parser.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "quality", help="where the files go"
    )
    args = parser.parse_args(argv)
    hardware.check_device(parser, args)
    args.suite = suite_pairs(parser, args.pairs or (QUICK_PAIRS if args.quick else None))
    args.size = args.size or (QUICK_SIZE if args.quick else DEFAULT_SIZE)
    try:
        args.settings = parse_settings(args.settings)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    return args


def run_pair(stylizer: Stylizer, network, pair: SuitePair, config: StyleConfig) -> PairResult:
    """Stylize one pair and judge the final picture."""
    photo, painting = load_image(pair.photo), load_image(pair.painting)
    size = output_size(photo, config)
    started = time.perf_counter()
    picture = stylizer.stylize_image(photo, painting, config)
    seconds = time.perf_counter() - started
    box = FACE_BOXES.get(pair.photo.name)
    face = FaceJudge(network, photo, size, box)(picture) if box else None
    return PairResult(pair, photo, painting, picture, Judge(network, photo, painting, size)(picture), seconds, face)


def quality_table(results: list[PairResult]) -> str:
    """One markdown row per pair: the judge's figures, the seconds, and the floors it misses."""
    layers = list(results[0].distances.layers)
    header = ["#", "pair", "structure", "worst region", "texture", "content", "style (paper)", *layers]
    header += ["face structure", "face content", "s", "floor"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for number, result in enumerate(results, start=1):
        d = result.distances
        cells = [
            str(number),
            result.pair.name,
            f"{d.structure:.3f}",
            f"{d.worst_region:.3f}",
            f"{d.texture:.4f}",
            f"{d.content:.3f}",
            f"{d.style:.4f}",
            *(f"{d.layers[name]:.4f}" for name in layers),
            *((f"{result.face.structure:.3f}", f"{result.face.content:.3f}") if result.face else ("–", "–")),
            f"{result.seconds:.0f}",
            "; ".join(result.below_floor) or "ok",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    worst = min(results, key=lambda r: r.distances.structure)
    lines.append(
        f"\nMedian structure {_median([r.distances.structure for r in results]):.3f}; worst: {worst.pair.name} "
        f"({worst.distances.structure:.3f}). Texture = mean of {', '.join(TEXTURE_LAYERS)}. "
        f"Floors: structure ≥ {STRUCTURE_FLOOR}, worst region ≥ {WORST_REGION_FLOOR}."
    )
    return "\n".join(lines)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def contact_sheet(results: list[PairResult], cell: tuple[int, int] = (288, 216)) -> Image.Image:
    """Photo | painting | picture, a labelled row per pair, each image fitted into ``cell``."""
    label_height, gap = 22, 6
    width = 3 * cell[0] + 4 * gap
    row_height = label_height + cell[1] + gap
    sheet = Image.new("RGB", (width, gap + row_height * len(results)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for row, result in enumerate(results):
        top = gap + row * row_height
        d = result.distances
        label = (
            f"{row + 1}. {result.pair.name}   structure {d.structure:.2f} (worst region {d.worst_region:.2f})   "
            f"texture {d.texture:.3f}   content {d.content:.2f}"
        )
        draw.text((gap, top + 3), label, fill="black", font=font)
        for column, image in enumerate((result.photo, result.painting, result.picture)):
            fitted = image.copy()
            fitted.thumbnail(cell, Image.Resampling.LANCZOS)
            left = gap + column * (cell[0] + gap) + (cell[0] - fitted.width) // 2
            sheet.paste(fitted, (left, top + label_height + (cell[1] - fitted.height) // 2))
    return sheet


def _file_stem(pair: SuitePair) -> str:
    return f"{pair.photo.stem}__{pair.painting.stem}"


def prepared(args: argparse.Namespace) -> tuple[list[SuitePair], Stylizer, VGG19Features, StyleConfig]:
    """What a run of suite pairs needs from its options (``--threads``, the device's, ``--size``, ``--set``, ``--out``,
    and the pairs in ``args.suite``): the pairs whose files are here, the stylizer, the judge's network and the
    settings; the output folder is made."""
    torch.set_num_threads(args.threads)
    suite = pairs_on_this_machine(args.suite)
    weights = load_bundled_weights()
    stylizer = hardware.stylizer_for(args, weights)
    network = judge_network(weights, stylizer.device)
    args.out.mkdir(parents=True, exist_ok=True)
    return suite, stylizer, network, StyleConfig(size=args.size).updated(**args.settings)


def main(argv: list[str] | None = None) -> int:
    """Run the suite, print the table and write the pictures, the sheet and the JSON."""
    args = parse_args(argv)
    suite, stylizer, network, config = prepared(args)
    results = []
    for pair in suite:
        print(f"stylizing {pair.name} at {args.size} px …", file=sys.stderr, flush=True)
        result = run_pair(stylizer, network, pair, config)
        result.picture.save(args.out / f"{_file_stem(pair)}.png")
        results.append(result)
    print(f"Settings: size={args.size} {' '.join(f'{k}={v}' for k, v in args.settings.items()) or '(defaults)'}\n")
    print(quality_table(results))
    contact_sheet(results).save(args.out / "contact_sheet.png")
    figures = {
        "size": args.size,
        "settings": {key: repr(value) for key, value in args.settings.items()},
        "floors": {"structure": STRUCTURE_FLOOR, "worst_region": WORST_REGION_FLOOR},
        "pairs": [
            {
                "pair": result.pair.name,
                "photo": result.pair.photo.name,
                "painting": result.pair.painting.name,
                "picture": f"{_file_stem(result.pair)}.png",
                "seconds": result.seconds,
                "below_floor": result.below_floor,
                "face": asdict(result.face) if result.face else None,
                **asdict(result.distances),
            }
            for result in results
        ],
    }
    (args.out / "quality.json").write_text(json.dumps(figures, indent=1))
    print(f"\nPictures, contact_sheet.png and quality.json in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
