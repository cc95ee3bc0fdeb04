"""Faces found in the photo, so that a portrait keeps its features (``faces="auto"``).

The detector is dlib's frontal face detector (:func:`dlib.get_frontal_face_detector`):
HOG features and linear filters for five poses (frontal, turned a little left or
right, tilted a little either way), built into the library, so nothing is downloaded;
a fraction of a second at the app's sizes on a CPU. OpenCV's cascades, the first
choice, are gone from OpenCV 5 (its ``opencv-python-headless``, used for the video's
flow, ships neither the cascade classifier nor the cascade files), and its CNN
detector (YuNet) needs a model file that OpenCV's wheels do not ship. scikit-image's LBP face
cascade (bundled) was tried on the example photos and paintings: it found faces in
the helmet, a painted village, a cat and the ink texture, and two boxes on one face.

Each face found becomes a feathered ellipse (:func:`face_mask`) over the detector's
box (brows to chin) grown to the forehead; the engine weighs the content term
``face_strength`` times more there (see :class:`~styletransfer.regions.Regions`), so
the features stay while the painting's colours and strokes still cover the face.

How it fails: it finds upright, roughly frontal faces only (a profile, a face turned
or tilted further than its five poses, or one under about 6 % of the photo's long
side, 40 px at :data:`SEARCH_SIDE`, is missed: the picture is then made as without
faces), and a texture can now and then look like a face to it (a patch of the
picture then keeps more of the photo and less of the painting; nothing else changes).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

#: The long side, in pixels, the photo is searched at (up or down): the detector's smallest face is 80 px, and the
#: search also runs once at twice this size, so faces down to about 40 px at this size are found.
SEARCH_SIDE = 640
#: The detector's score a face must reach. Measured at this search size: the example faces (the astronaut, the
#: Mona Lisa, and two small portraits from scikit-image's CC0 tutorials, a photo and a crop of the Mona Lisa, not
#: shipped) scored 1.46 to 2.34; the best-scoring texture, the generated swirls, 0.40; the photos without people and
#: the paintings stayed below 0.
THRESHOLD = 0.5
#: The ellipse around a box, as multiples of the box's width and height (the box runs from the brows to the chin;
#: the ellipse takes in the forehead).
ELLIPSE = (1.2, 1.45)
#: How far the ellipse's centre sits above the box's, as a share of the box's height.
RAISE = 0.12
#: The soft edge of a face's mask: the blur radius as a share of the box's width.
FEATHER = 0.15


@dataclass(frozen=True)
class Face:
    """A face found in a picture: its box in the picture's pixels."""

    left: int
    top: int
    width: int
    height: int


#: One search at a time: dlib's detector keeps its image pyramid in itself, so two searches at once in two threads
#: (two visitors' jobs being checked) corrupt the heap and crash the process.
_SEARCHING = threading.Lock()


@lru_cache(maxsize=1)
def _detector():
    import dlib  # only where faces are looked for

    return dlib.get_frontal_face_detector()


def find_faces(photo: Image.Image) -> list[Face]:
    """The upright, roughly frontal faces in ``photo`` (any size), as boxes in its pixels; see the module's doc for
    what is missed and what is found by mistake."""
    scale = SEARCH_SIDE / max(photo.size)
    searched = photo.convert("RGB").resize(
        (round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS
    )
    with _SEARCHING:
        boxes, _, _ = _detector().run(np.asarray(searched), 1, THRESHOLD)  # upsampled once: the smaller faces too
    return [
        Face(*(round(value / scale) for value in (box.left(), box.top(), box.width(), box.height()))) for box in boxes
    ]


def face_mask(size: tuple[int, int], faces: list[Face]) -> Image.Image | None:
    """A grey mask of (width, height) ``size``, white over each face's ellipse with a soft edge (see
    :data:`ELLIPSE` and :data:`FEATHER`); ``None`` for no face."""
    mask = None
    for face in faces:
        centre_x, centre_y = face.left + face.width / 2, face.top + (0.5 - RAISE) * face.height
        half_width, half_height = ELLIPSE[0] * face.width / 2, ELLIPSE[1] * face.height / 2
        layer = Image.new("L", size, 0)
        ImageDraw.Draw(layer).ellipse(
            (centre_x - half_width, centre_y - half_height, centre_x + half_width, centre_y + half_height), fill=255
        )
        layer = layer.filter(ImageFilter.GaussianBlur(FEATHER * face.width))
        mask = layer if mask is None else ImageChops.lighter(mask, layer)
    return mask
