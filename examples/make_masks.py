"""Make the example region mask: the sky of ``rocket.jpg``, white (``python examples/make_masks.py``).

The sky is the smooth, blue part of the photo: pixels bluer than they are red, where the picture changes little
from one pixel to the next (the towers' lattices and the lights do), cleaned up with a closing and an opening.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

HERE = Path(__file__).resolve().parent


def sky_mask(photo: Image.Image) -> Image.Image:
    """White where ``photo`` shows sky."""
    rgb = np.asarray(photo.convert("RGB"), np.float32)
    bluer = rgb[..., 2] - rgb[..., 0] > 25
    grey = photo.convert("L").filter(ImageFilter.GaussianBlur(1.5))
    edges = np.asarray(grey.filter(ImageFilter.FIND_EDGES), np.float32)
    smooth = np.asarray(Image.fromarray((edges < 6).astype(np.uint8) * 255).filter(ImageFilter.MinFilter(3))) > 0
    mask = Image.fromarray(((bluer & smooth) * 255).astype(np.uint8))
    closed = mask.filter(ImageFilter.MaxFilter(9)).filter(ImageFilter.MinFilter(9))
    return closed.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.MaxFilter(3))


if __name__ == "__main__":
    with Image.open(HERE / "rocket.jpg") as rocket:
        sky_mask(rocket).save(HERE / "masks" / "rocket_sky.png", optimize=True)
