"""The face score: is the face in a portrait still that person's face?

A portrait's face is a small part of the picture, so the whole picture's numbers
hardly see it: strokes across the eyes and mouth cost the structure score and the
content distance little. The face score takes both inside a face box marked by
hand on the photo (:data:`FACE_BOXES`, not found by the detector the engine uses,
so that the detector does not grade itself):

* ``structure``: the structure score (:mod:`benchmarks.structure`) of the box,
  cut from the photo and from the picture and both resized to :data:`FACE_SIDE`
  on the long side, so that the score does not move with the output size;
* ``content``: the judge's content distance (relu4_2, :mod:`benchmarks.judge`)
  over the box's cells of the whole picture's map: ‖F(x) − F(c)‖² / ‖F(c)‖² summed
  over those cells only.

Higher structure and lower content distance: more of the face kept. Like the
structure score it sees layout, not likeness; the contact sheet
(``python -m benchmarks.faces``) settles it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

from styletransfer import images
from styletransfer.features import VGG19Features, layer_stride

from .judge import CONTENT_LAYER
from .structure import PhotoLayout

#: The face in each portrait photo of the suite, marked by hand: (left, top, right, bottom) as shares of the photo's
#: width and height, from the brows to the chin and cheek to cheek.
FACE_BOXES = {
    "astronaut.jpg": (0.34, 0.13, 0.53, 0.33),
}
#: The long side, in pixels, the face box is scored at.
FACE_SIDE = 224


@dataclass(frozen=True)
class FaceScore:
    """How much of the face a picture keeps."""

    structure: float
    """The structure score inside the face box (1: the photo's layout)."""
    content: float
    """The judge's content distance inside the face box (0: the photo's features)."""


def face_box(fractions: tuple[float, float, float, float], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box of ``fractions`` (see :data:`FACE_BOXES`) in the pixels of a picture of (width, height) ``size``."""
    left, top, right, bottom = fractions
    width, height = size
    return round(left * width), round(top * height), round(right * width), round(bottom * height)


class FaceJudge:
    """The :class:`FaceScore` of pictures of one photo at one size, the photo's side computed once."""

    def __init__(
        self,
        network: VGG19Features,
        photo: Image.Image,
        size: tuple[int, int],
        fractions: tuple[float, float, float, float],
    ) -> None:
        """``network`` is the judge's (:func:`benchmarks.judge.judge_network`); ``photo`` is resized to ``size``, the
        pictures' (width, height)."""
        self.network = network
        self.size = size
        self.box = face_box(fractions, size)
        self.device = next(network.parameters()).device
        photo = photo.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        crop = _scored_crop(photo, self.box)
        self.layout = PhotoLayout(network, crop, crop.size)
        self.photo_cells = self._content_cells(photo)

    def __call__(self, picture: Image.Image) -> FaceScore:
        """Score ``picture``, which must have the size this judge was made for."""
        if picture.size != self.size:
            raise ValueError(f"The face judge was set up for {self.size}, not {picture.size}.")
        picture = picture.convert("RGB")
        cells = self._content_cells(picture)
        distance = (cells - self.photo_cells).pow(2).sum() / self.photo_cells.pow(2).sum().clamp_min(1e-12)
        structure = self.layout.score(_scored_crop(picture, self.box)).structure
        return FaceScore(structure=structure, content=float(distance))

    @torch.no_grad()
    def _content_cells(self, image: Image.Image) -> torch.Tensor:
        """The content layer's cells of the whole ``image``'s map that lie in the face box."""
        features = self.network(images.to_tensor(image, self.device))[CONTENT_LAYER].float()
        stride = layer_stride(CONTENT_LAYER)
        left, top, right, bottom = self.box
        return features[..., top // stride : -(-bottom // stride), left // stride : -(-right // stride)]


def _scored_crop(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """The face box of ``image``, resized to :data:`FACE_SIDE` on its long side."""
    return images.resize_long_side(image.crop(box), FACE_SIDE)
