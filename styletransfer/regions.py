"""Region masks: which style paints where on the photo, and what stays a photo.

Guided Gram matrices after Gatys, Ecker, Bethge, Hertzmann and Shechtman,
"Controlling Perceptual Factors in Neural Style Transfer" (CVPR 2017): each style
image has a mask on the photo, and at every style layer the picture's feature
statistics are taken over that region only (weighted by the mask, resized to the
layer) and compared with that style's own. A style image may have a mask of its
own, choosing which part of the painting feeds its region. A keep-photo mask
takes a region out of every style, and the photo is put back there at the end.
A faces region (the faces :mod:`styletransfer.faces` finds) keeps every style but
weighs the photo's content more, so the features stay under the painting's strokes.

A mask is any image, of any size: white is the region, black is not, grey is in
part. An image with transparency counts its opaque part (a layer painted with any
colour of brush). Masks are feathered (blurred) so that no seam shows where
regions meet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageFilter
from torch import Tensor

from . import images

#: A mask below this mean value (on a 0–1 scale) covers nothing.
EMPTY_MASK = 1e-3


def load_mask(source: images.ImageInput, *, name: str = "mask") -> Image.Image:
    """Open ``source`` as a mask: an 8-bit grey image, white where the region is.

    Images with transparency count their opaque part (whatever the brush's colour);
    others their brightness. Raises :class:`~styletransfer.ImageError` for anything
    that is not an image.
    """
    image = images.open_image(source, name=name)
    try:
        image.seek(0)
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise images.ImageError(f"The {name} could not be decoded ({error}).") from None
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA").getchannel("A")
    return image.convert("L")


@dataclass(frozen=True)
class Regions:
    """The masks of one job, at the photo's output size (grey PIL images), feathered.

    ``styles`` holds one mask per style image (``None``: the rest of the photo,
    where no other style's mask is), ``keep`` the region that stays a photo (or
    ``None``), and ``style_sources`` one mask per style image on the style image
    itself (or ``None``). The keep-photo region is taken out of every style's.
    ``faces`` is where the content counts more (or ``None``).
    """

    styles: tuple[Image.Image | None, ...]
    """One mask per style image; ``None``: the rest of the photo, where no other style's mask is."""
    keep: Image.Image | None
    style_sources: tuple[Image.Image | None, ...]
    faces: Image.Image | None = None

    @property
    def guided(self) -> bool:
        """Whether any style has a region of its own or a source mask (else the styles blend everywhere)."""
        return any(mask is not None for mask in self.styles + self.style_sources)

    def style_weights(self, size: tuple[int, int], device: torch.device) -> list[Tensor]:
        """Each style's region at ``size`` (width, height) as a (1, 1, H, W) tensor in [0, 1], keep-photo taken
        out."""
        keep = self.keep_weights(size, device)
        leave = 1.0 - keep if keep is not None else 1.0
        given = [None if mask is None else _tensor(mask, size, device) for mask in self.styles]
        painted = [weights for weights in given if weights is not None]
        rest = 1.0 - torch.stack(painted).amax(dim=0) if painted else torch.ones(1, 1, size[1], size[0], device=device)
        return [(rest if weights is None else weights) * leave for weights in given]

    def keep_weights(self, size: tuple[int, int], device: torch.device) -> Tensor | None:
        """The keep-photo region at ``size`` as a (1, 1, H, W) tensor in [0, 1], or ``None``."""
        return None if self.keep is None else _tensor(self.keep, size, device)

    def content_weights(self, size: tuple[int, int], device: torch.device, strength: float) -> Tensor | None:
        """How much the content counts at each pixel, at ``size``, as a (1, 1, H, W) tensor: 1, and up to
        ``strength`` inside the faces region; ``None`` without one (1 everywhere)."""
        if self.faces is None:
            return None
        return 1.0 + (strength - 1.0) * _tensor(self.faces, size, device)

    def source_weights(self, index: int, size: tuple[int, int], device: torch.device) -> Tensor | None:
        """Style image ``index``'s own mask at ``size``, or ``None`` when all of it is used."""
        mask = self.style_sources[index]
        return None if mask is None else _tensor(mask, size, device)


def make_regions(
    photo_size: tuple[int, int],
    style_count: int,
    masks: Sequence[images.ImageInput | None] | None = None,
    keep_mask: images.ImageInput | None = None,
    style_masks: Sequence[images.ImageInput | None] | None = None,
    *,
    feather: float = 0.0,
    faces: Image.Image | None = None,
) -> Regions | None:
    """The :class:`Regions` for a photo of ``photo_size`` and ``style_count`` style images, or ``None`` when no
    mask is given.

    ``feather`` is the soft edge's width as a share of the photo's long side. A
    style without a mask (``None``, or left out at the end) paints the rest of the
    photo: everywhere when no style has a mask.
    Raises ``ValueError`` (``ImageError`` for files) with a readable message: more
    masks than style images, a file that is not an image, or masks that leave no
    region to paint. An all-black style mask means that style is not used.
    ``faces`` is a mask of the faces (see :func:`styletransfer.faces.face_mask`), at ``photo_size`` and already
    feathered.
    """
    masks, style_masks = list(masks or []), list(style_masks or [])
    if not masks and keep_mask is None and not style_masks and faces is None:
        return None
    for given, what in ((masks, "masks"), (style_masks, "style masks")):
        if len(given) > style_count:
            raise ValueError(
                f"{len(given)} {what} but {style_count} style image{'s' if style_count > 1 else ''}: "
                f"give at most one per style image, in the same order."
            )
    radius = feather * max(photo_size)

    def on_photo(source, name: str) -> Image.Image | None:
        if source is None:
            return None
        mask = load_mask(source, name=name).resize(photo_size, Image.Resampling.BILINEAR)
        return mask.filter(ImageFilter.GaussianBlur(radius)) if radius > 0 else mask

    def named(what: str, index: int) -> str:
        return f"{what} {index + 1}" if style_count > 1 else what

    styles = [on_photo(m, named("mask", i)) for i, m in enumerate(masks)] + [None] * (style_count - len(masks))
    keep = on_photo(keep_mask, "keep-photo mask")
    sources = [None if m is None else load_mask(m, name=named("style mask", i)) for i, m in enumerate(style_masks)]
    sources += [None] * (style_count - len(sources))
    for index, source in enumerate(sources):
        if source is not None and _coverage(source) < EMPTY_MASK:
            raise ValueError(f"The {named('style mask', index)} is all black: it leaves no part of the painting.")
    regions = Regions(tuple(styles), keep, tuple(sources), faces)
    painted = regions.style_weights((64, 64), torch.device("cpu"))
    if all(float(weights.mean()) < EMPTY_MASK for weights in painted):
        raise ValueError(
            "The masks leave nothing to paint: every style's mask is black"
            + (" or covered by the keep-photo mask." if keep is not None else ".")
        )
    return regions


def _tensor(mask: Image.Image, size: tuple[int, int], device: torch.device) -> Tensor:
    resized = mask if mask.size == size else mask.resize(size, Image.Resampling.BILINEAR)
    array = np.asarray(resized, dtype=np.float32) / 255.0
    return torch.from_numpy(array)[None, None].to(device)


def _coverage(mask: Image.Image) -> float:
    return float(np.asarray(mask, dtype=np.float32).mean() / 255.0)
