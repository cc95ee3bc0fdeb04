"""The structure score: is the photo still recognisable in the picture?

Pixel measures are fooled both ways. A painted texture adds edges of its own, so
an edge map of a well-kept photo disagrees with the photo's; and a painting's
composition transplanted into the photo's flat sky adds structure where the
photo has none to compare with, so a measure weighted by the photo's contrast
never sees it. On the first quality-suite runs a luminance correlation scored
pictures that had lost the photo (0.73–0.79) the same as pictures that kept it
(0.76–0.84).

This score compares the *layout* of the two images instead of their pixels, as
self-similarity (after Kolkin et al., "Style Transfer by Relaxed Optimal
Transport and Self-Similarity", CVPR 2019):

1. Both images go through the judge's VGG19 to relu4_1, whose features name
   parts of objects (a window, an eye, a cable) rather than brushwork, and are
   averaged into a grid of :data:`GRID_LONG_SIDE` cells on the long side.
2. Each image's self-similarity matrix holds the cosine similarity of every cell's
   (mean-centred) feature with every other's: which parts of the picture are alike.
   A style changes the features everywhere in much the same way, so the matrix
   survives it; a lost photo or a transplanted object changes which cells are alike.
3. ``structure`` is the correlation of the two matrices (1: the photo's layout,
   about 0.2–0.35: an unrelated painting of the same size). ``worst_region`` is the
   lowest correlation of the matrices' rows over the regions of a 3×3 grid: the part
   of the photo most changed, which catches an object painted over one part.

Its limits: it measures layout at about 1/32 of the picture, not identity. A face
that keeps its layout but loses its likeness still scores well; it is computed
with one network, so a picture tuned to that network's features could fool it;
and it is not a distance: 0.9 is not "twice as good" as 0.45. Looking settles it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from styletransfer import images
from styletransfer.features import VGG19Features

#: The layer whose features describe the layout.
LAYER = "relu4_1"
#: Cells on the long side of the grid the features are averaged into.
GRID_LONG_SIDE = 32
#: Regions per side of the grid from which ``worst_region`` is taken.
REGIONS = 3


@dataclass(frozen=True)
class Structure:
    """How much of the photo's layout a picture keeps (1: all of it)."""

    structure: float
    """The correlation of the two self-similarity matrices."""
    worst_region: float
    """The lowest correlation over the regions of a 3×3 grid."""


class PhotoLayout:
    """A photo's self-similarity at one picture size, computed once to score many pictures against it."""

    def __init__(self, network: VGG19Features, photo: Image.Image, size: tuple[int, int]) -> None:
        """``network`` must compute :data:`LAYER`; ``photo`` is resized to ``size`` (the pictures' width, height)."""
        self.network = network
        self.size = size
        self.grid = _grid(size)
        photo = photo.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        self.similarity = _self_similarity(network, photo, self.grid)

    def score(self, picture: Image.Image) -> Structure:
        """How much of the photo's layout ``picture`` keeps; see the module's docstring."""
        if picture.size != self.size:
            raise ValueError(f"The layout was computed for {self.size}, not {picture.size}.")
        ours = _self_similarity(self.network, picture.convert("RGB"), self.grid)
        rows = _correlation(ours, self.similarity).view(self.grid)  # each cell's row of similarities
        height, width = self.grid
        regions = [
            rows[r * height // REGIONS : (r + 1) * height // REGIONS, c * width // REGIONS : (c + 1) * width // REGIONS]
            for r in range(REGIONS)
            for c in range(REGIONS)
        ]
        return Structure(
            structure=float(_correlation(ours.flatten(), self.similarity.flatten())),
            worst_region=float(min(region.mean() for region in regions)),
        )


def structure_score(network: VGG19Features, picture: Image.Image, photo: Image.Image) -> Structure:
    """Compare ``picture`` with ``photo`` (resized to the picture's size) through ``network``, which must compute
    :data:`LAYER`; see the module's docstring."""
    return PhotoLayout(network, photo, picture.size).score(picture)


def _grid(size: tuple[int, int]) -> tuple[int, int]:
    """(rows, columns) of the grid for an image of ``size`` (width, height)."""
    columns, rows = images.scaled_size(size, GRID_LONG_SIDE)
    return max(rows, REGIONS), max(columns, REGIONS)


@torch.no_grad()
def _self_similarity(network: VGG19Features, image: Image.Image, grid: tuple[int, int]) -> Tensor:
    features = network(images.to_tensor(image, next(network.parameters()).device))[LAYER].float()
    cells = F.adaptive_avg_pool2d(features, grid).flatten(2)[0].T  # (cells, channels)
    cells = F.normalize(cells - cells.mean(dim=0, keepdim=True), dim=1)
    return cells @ cells.T


def _centred(values: Tensor) -> Tensor:
    return values - values.mean(dim=-1, keepdim=True)


def _correlation(a: Tensor, b: Tensor) -> Tensor:
    """Pearson's correlation along the last dimension."""
    a, b = _centred(a), _centred(b)
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(1e-12)
