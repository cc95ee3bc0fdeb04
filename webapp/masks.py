"""The regions a user gives: painted on the page's editor, or sent as mask files through the API.

The editor has a layer per style and one for "keep the photo"; the API takes the
same three as plain images (``mask``, ``second_mask``, ``keep_mask``). Either way
they become the engine's ``masks`` and ``keep_mask`` (see
:mod:`styletransfer.regions`). What the editor sends back is not trusted: a layer
may be missing, empty, or of another size (the engine resizes every mask to the
photo).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

#: The editor's layers, in order: each style's region, then the region that stays the photo.
LAYERS = ("First style", "Second style", "Keep the photo")
#: The regions preview's colour for each layer.
COLOURS = ((79, 70, 229), (217, 119, 6), (5, 150, 105))
#: How strongly the regions preview tints the photo where a layer is painted.
TINT = 0.55


@dataclass(frozen=True)
class UserRegions:
    """The engine's masks for one job: one per style (``None``: the rest of the photo) and the keep-photo mask."""

    masks: tuple[Image.Image | str | bytes | None, ...] = ()
    keep: Image.Image | str | bytes | None = None

    def engine_arguments(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`styletransfer.Stylizer.stylize` for these regions."""
        return {"masks": list(self.masks) or None, "keep_mask": self.keep}


def painted_layers(editor: dict[str, Any] | None) -> list[Image.Image | None]:
    """The editor's three layers as grey masks (white where painted, whatever the brush's colour), ``None`` for
    a layer that is missing or has no paint."""
    layers = list((editor or {}).get("layers") or [])[: len(LAYERS)]
    layers += [None] * (len(LAYERS) - len(layers))
    return [_painted(layer) for layer in layers]


def user_regions(
    style_count: int,
    editor: dict[str, Any] | None = None,
    mask: str | None = None,
    second_mask: str | None = None,
    keep_mask: str | None = None,
) -> UserRegions:
    """The regions of a job with ``style_count`` style images: painted in the editor if anything is painted
    there, else the mask files. A style without a region paints the rest (see
    :func:`styletransfer.regions.make_regions`). Raises ``ValueError`` for a region given for a second style that
    is not there."""
    first, second, keep = painted_layers(editor)
    if first is None and second is None and keep is None:
        first, second, keep = mask, second_mask, keep_mask
    if second is not None and style_count < 2:
        raise ValueError("A region is given for a second style, but there is no second style image.")
    masks = (first, second)[:style_count]
    return UserRegions(() if all(m is None for m in masks) else masks, keep)


def preview(photo: Image.Image | None, editor: dict[str, Any] | None) -> Image.Image | None:
    """The photo tinted with each painted layer's colour (:data:`COLOURS`), or ``None`` without a photo."""
    if photo is None:
        return None
    picture = np.asarray(photo.convert("RGB"), np.float32)
    for layer, colour in zip(painted_layers(editor), COLOURS, strict=True):
        if layer is None:
            continue
        weight = np.asarray(layer.resize(photo.size, Image.Resampling.BILINEAR), np.float32)[..., None] / 255 * TINT
        picture = picture * (1 - weight) + np.asarray(colour, np.float32) * weight
    return Image.fromarray(picture.round().astype(np.uint8))


def _painted(layer: Image.Image | None) -> Image.Image | None:
    """A layer's paint as a grey mask (the editor hands layers over as PIL images), or ``None`` without any."""
    if layer is None:
        return None
    alpha = layer.convert("RGBA").getchannel("A")
    return alpha if alpha.getextrema()[1] > 0 else None
