"""A corpus of awkward uploads, written as real files by the tests (nothing here is committed as a binary).

Each :class:`Case` is either refused, with a message the user can act on, or
handled: it loads, and a stylization at 64 px gives a picture of a known size.
The same corpus runs through the engine (``test_images.py``) and through the
running app (``test_app_abuse.py``).
"""

from __future__ import annotations

import functools
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

#: The output size the corpus's expectations are for.
SIZE = 64

NOT_AN_IMAGE = "is not an image that can be read"
CORRUPT = "truncated or corrupt"
#: Refused as a content image only: a style image of any shape is resized to suit the network.
TOO_THIN = "aspect ratio is too extreme"


def gradient(size=(96, 64), mode="RGB") -> Image.Image:
    """A colourful test picture with a clear left-to-right and top-to-bottom structure."""
    x = np.linspace(0, 255, size[0])[None, :].repeat(size[1], 0)
    y = np.linspace(0, 255, size[1])[:, None].repeat(size[0], 1)
    rgb = np.stack([x, y, 255 - x], axis=2).astype(np.uint8)
    return Image.fromarray(rgb).convert(mode)


def encoded(image: Image.Image, format: str, **options) -> bytes:
    """``image`` as the bytes of a ``format`` file."""
    data = io.BytesIO()
    image.save(data, format=format, **options)
    return data.getvalue()


@dataclass(frozen=True)
class Case:
    """One upload: its file name, how to make its bytes, and what must come of it."""

    name: str
    make: Callable[[], bytes]
    refusal: str | None = None
    """A fragment of the message that refuses it; ``None`` if it must be handled."""
    output: tuple[int, int] | None = None
    """The size of the picture a handled case gives at :data:`SIZE` px."""

    @property
    def refused_as_style(self) -> bool:
        """Whether it is refused as a style image too (with a message naming the style image)."""
        return self.refusal is not None and self.refusal != TOO_THIN

    def write(self, folder: Path) -> Path:
        """Write the file into ``folder`` and return its path."""
        path = folder / self.name
        path.write_bytes(_made(self.make))
        return path


@functools.cache
def _made(make: Callable[[], bytes]) -> bytes:
    """The bytes ``make`` gives, made once per run: the bombs and the huge JPEG take seconds to encode."""
    return make()


def _zip() -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("photo.jpg", b"not really")
    return data.getvalue()


def _truncated(format: str) -> bytes:
    whole = encoded(gradient((400, 300)), format)
    return whole[: len(whole) // 2]


def _scrambled_jpeg() -> bytes:
    """A JPEG whose headers are intact and whose compressed data is noise."""
    whole = encoded(gradient((400, 300)), "JPEG")
    data_start = whole.index(b"\xff\xda") + 20  # just past the start-of-scan header
    noise = np.random.default_rng(0).integers(0, 256, len(whole) - data_start - 2, dtype=np.uint8).tobytes()
    return whole[:data_start] + noise + whole[-2:]


def _rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    return encoded(gradient((96, 64)), "JPEG", exif=exif)


def _animated_gif() -> bytes:
    frames = [gradient().convert("P"), Image.new("P", (96, 64), 3), Image.new("P", (96, 64), 9)]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)


def _sixteen_bit_png() -> bytes:
    levels = (np.linspace(0, 65535, 96)[None, :].repeat(64, 0)).astype(np.uint16)
    return encoded(Image.fromarray(levels), "PNG")


def _float_tiff() -> bytes:
    values = np.linspace(0, 1, 96, dtype=np.float32)[None, :].repeat(64, 0)
    return encoded(Image.fromarray(values, mode="F"), "TIFF")


def _srgb_tagged_png() -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encoded(gradient(), "PNG", icc_profile=profile)


def _bomb(side: int) -> bytes:
    """A few kilobytes of PNG that would decode to ``side``² pixels."""
    return encoded(Image.new("1", (side, side)), "PNG")


CASES = [
    # Not images at all
    Case("report.jpg", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", NOT_AN_IMAGE),
    Case("empty.png", lambda: b"", NOT_AN_IMAGE),
    Case("notes.png", lambda: b"Just some text, not a picture.\n", NOT_AN_IMAGE),
    Case("page.webp", lambda: b"<!doctype html><html><body>hello</body></html>", NOT_AN_IMAGE),
    Case("archive.jpg", _zip, NOT_AN_IMAGE),
    Case("header-only.gif", lambda: b"GIF89a" + b"\x00" * 3, NOT_AN_IMAGE),
    Case(
        "drawing.svg",
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="90" height="60"><rect width="90" height="60"/></svg>',
        NOT_AN_IMAGE,
    ),
    # Broken images
    Case("truncated.png", lambda: _truncated("PNG"), CORRUPT),
    Case("truncated.jpg", lambda: _truncated("JPEG"), CORRUPT),
    Case("scrambled.jpg", _scrambled_jpeg, CORRUPT),
    # Decompression bombs: over PIL's own hard limit, and between its warning and ours
    Case("bomb.png", lambda: _bomb(20_000), "megapixels accepted"),
    Case("bomb-110mp.png", lambda: _bomb(10_500), "megapixels accepted"),
    # Too small, or too thin for the network at this size
    Case("icon.png", lambda: encoded(Image.new("RGB", (8, 8), "red"), "PNG"), "each side must be at least 16"),
    Case("strip.png", lambda: encoded(gradient((4000, 20)), "PNG"), TOO_THIN),
    # Awkward but valid
    Case("transparent.png", lambda: encoded(gradient(mode="RGBA"), "PNG"), output=(64, 43)),
    Case("grey-alpha.png", lambda: encoded(gradient(mode="LA"), "PNG"), output=(64, 43)),
    Case("animated.gif", _animated_gif, output=(64, 43)),
    Case("print.jpg", lambda: encoded(gradient(mode="CMYK"), "JPEG"), output=(64, 43)),
    Case("deep.png", _sixteen_bit_png, output=(64, 43)),
    Case("scan.tiff", _float_tiff, output=(64, 43)),
    Case("phone.jpg", _rotated_jpeg, output=(43, 64)),
    Case("fax.bmp", lambda: encoded(gradient(mode="1"), "BMP"), output=(64, 43)),
    Case("lossless.webp", lambda: encoded(gradient(), "WEBP", lossless=True), output=(64, 43)),
    Case("tagged.png", _srgb_tagged_png, output=(64, 43)),
    Case("huge.jpg", lambda: encoded(gradient((6000, 4000)), "JPEG", quality=60), output=(64, 43)),
]
