"""Shared fixtures: the example images and a CPU stylizer with the bundled original weights."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from styletransfer import Stylizer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def stylizer() -> Stylizer:
    """The real original VGG19 weights on the CPU, loaded once for the whole run."""
    return Stylizer("bundled", device="cpu")


@pytest.fixture(scope="session")
def content_image() -> Image.Image:
    """A real photo (600×400), so aspect-ratio handling is exercised."""
    return Image.open(EXAMPLES / "coffee.jpg").convert("RGB")


@pytest.fixture(scope="session")
def style_image() -> Image.Image:
    return Image.open(EXAMPLES / "style_swirls.jpg").convert("RGB")


@pytest.fixture(scope="session")
def second_style_image() -> Image.Image:
    return Image.open(EXAMPLES / "style_mosaic.jpg").convert("RGB")
