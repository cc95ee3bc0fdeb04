"""Generate the procedural style images in this folder.

Each one is painted from a fixed seed, so running ``python examples/make_styles.py``
recreates the committed files exactly. They are the project's own work (CC0),
made to have what a style image needs: strong texture, clear strokes and colour.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 512
HERE = Path(__file__).parent


def swirls(seed: int = 1) -> Image.Image:
    """Short curved dabs of blue and gold that follow a field of vortices, like night-sky brushwork."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (SIZE, SIZE), (22, 38, 92))
    draw = ImageDraw.Draw(image)
    centres = rng.uniform(0, SIZE, size=(6, 2))
    spins = rng.choice([-1.0, 1.0], size=6)
    palette = [(30, 60, 140), (52, 96, 182), (90, 140, 210), (200, 190, 90), (245, 220, 120), (20, 30, 70)]
    for _ in range(9000):
        x, y = rng.uniform(0, SIZE, size=2)
        colour = palette[rng.integers(len(palette))]
        width = int(rng.integers(2, 6))
        points = [(x, y)]
        for _ in range(8):
            dx, dy = _vortex_flow(x, y, centres, spins)
            x, y = x + 3.0 * dx, y + 3.0 * dy
            points.append((x, y))
        draw.line(points, fill=colour, width=width, joint="curve")
    return image.filter(ImageFilter.SMOOTH)


def _vortex_flow(x: float, y: float, centres: np.ndarray, spins: np.ndarray) -> tuple[float, float]:
    """Unit direction of a flow made of a few swirling centres."""
    fx = fy = 0.0
    for (cx, cy), spin in zip(centres, spins, strict=True):
        rx, ry = x - cx, y - cy
        weight = 1.0 / (rx * rx + ry * ry + 400.0)
        fx += -ry * spin * weight
        fy += rx * spin * weight
    norm = math.hypot(fx, fy) or 1.0
    return fx / norm, fy / norm


def mosaic(seed: int = 2) -> Image.Image:
    """Irregular tiles in saturated colours with dark grout, like a Roman floor."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, SIZE, size=(700, 2))
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    pixels = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    distances = np.full((pixels.shape[0], 2), np.inf, dtype=np.float32)
    nearest = np.zeros(pixels.shape[0], dtype=np.int64)
    for index, centre in enumerate(centres.astype(np.float32)):
        d = ((pixels - centre) ** 2).sum(axis=1)
        closer = d < distances[:, 0]
        distances[:, 1] = np.where(closer, distances[:, 0], np.minimum(distances[:, 1], d))
        distances[:, 0] = np.where(closer, d, distances[:, 0])
        nearest = np.where(closer, index, nearest)
    palette = np.array([(196, 62, 40), (230, 170, 50), (40, 110, 150), (235, 225, 200), (60, 130, 80), (120, 40, 90)])
    colours = palette[rng.integers(len(palette), size=len(centres))] + rng.integers(-25, 25, size=(len(centres), 3))
    image = colours[nearest].reshape(SIZE, SIZE, 3)
    edge = (np.sqrt(distances[:, 1]) - np.sqrt(distances[:, 0])).reshape(SIZE, SIZE) < 2.2
    image[edge] = (35, 30, 28)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def ink(seed: int = 3) -> Image.Image:
    """Bold black and vermilion brush strokes on warm paper."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (SIZE, SIZE), (238, 228, 205))
    draw = ImageDraw.Draw(image)
    for _ in range(260):
        x, y = rng.uniform(-50, SIZE + 50, size=2)
        angle = rng.uniform(0, math.pi)
        length = rng.uniform(30, 160)
        colour = (20, 18, 16) if rng.random() < 0.7 else (200, 50, 30)
        width = int(rng.integers(3, 16))
        bend = rng.uniform(-0.02, 0.02)
        points = []
        for t in np.linspace(0, 1, 12):
            a = angle + bend * t * length
            points.append((x + math.cos(a) * t * length, y + math.sin(a) * t * length))
        draw.line(points, fill=colour, width=width, joint="curve")
    paper = np.asarray(image, dtype=np.int16) + rng.integers(-12, 12, size=(SIZE, SIZE, 1))
    return Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)).filter(ImageFilter.SMOOTH)


def main() -> None:
    """Write every style image next to this script."""
    for name, paint in (("swirls", swirls), ("mosaic", mosaic), ("ink", ink)):
        paint().save(HERE / f"style_{name}.jpg", quality=92)
        print(f"wrote style_{name}.jpg")


if __name__ == "__main__":
    main()
