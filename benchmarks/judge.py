"""The judge: one fixed measure of how well a picture matches its style and content.

Both distances are taken at the output's size with the bundled original VGG19
(the Caffe weights the paper used) in fp32, whatever backbone or precision
produced the picture:

* style distance: the mean over relu1_1 … relu5_1 of ‖G(x) − G(s)‖² / ‖G(s)‖²,
  where G is the Gram matrix and s the style image;
* content distance: ‖F(x) − F(c)‖² / ‖F(c)‖² at relu4_2, where c is the content image.

The content image is resized to exactly the output's size; the style image keeps
its aspect ratio and is resized so that its long side equals the output's long
side (what our engine does at its default ``style_scale`` of 1). Both use
Lanczos resampling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import torch
from PIL import Image

from styletransfer import images
from styletransfer.features import VGG19Features
from styletransfer.losses import gram_matrix, relative_distance
from styletransfer.weights import BackboneWeights, load_bundled_weights

#: The paper's layers, fixed here so that the judge does not move with the engine's defaults.
CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclass(frozen=True)
class Distances:
    """The judge's verdict on one picture (smaller is better)."""

    style: float
    content: float


class Snapshot(NamedTuple):
    """A picture taken during a run, to be judged later."""

    seconds: float
    iteration: int
    """Optimiser iterations (for the reference: evaluations) done before the picture."""
    image: Image.Image


@dataclass(frozen=True)
class Point:
    """A picture judged at a moment of a run."""

    seconds: float
    iteration: int
    style: float
    content: float

    @property
    def distances(self) -> Distances:
        """The judge's verdict at this point."""
        return Distances(self.style, self.content)

    def meets(self, target: Distances) -> bool:
        """Whether this picture is at least as good as ``target`` in both style and content."""
        return self.style <= target.style and self.content <= target.content


def judge_inputs(content: Image.Image, style: Image.Image, size: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
    """The content and style images as the judge (and the reference) see them for an output of ``size``."""
    content = content.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    return content, images.resize_long_side(style.convert("RGB"), max(size))


def judge_network(weights: BackboneWeights, device: torch.device) -> VGG19Features:
    """The judge's fp32 feature extractor; ``weights`` must be the bundled original ones."""
    if weights.source != "bundled":
        raise ValueError(f"The judge uses the bundled original weights, not {weights.description}.")
    return VGG19Features(weights.state, weights.normalization, [CONTENT_LAYER, *STYLE_LAYERS]).to(device)


class Judge:
    """:func:`judge` for one content/style pair and output size, with the targets computed once."""

    def __init__(self, network: VGG19Features, content: Image.Image, style: Image.Image, size: tuple[int, int]) -> None:
        self.network = network
        self.size = size
        self.device = next(network.parameters()).device
        content, style = judge_inputs(content, style, size)
        with torch.no_grad():
            self.content_target = network(self._tensor(content))[CONTENT_LAYER]
            style_features = network(self._tensor(style))
            self.style_targets = {name: gram_matrix(style_features[name]) for name in STYLE_LAYERS}

    def _tensor(self, image: Image.Image) -> torch.Tensor:
        return images.to_tensor(image, self.device)

    @torch.no_grad()
    def __call__(self, output: Image.Image) -> Distances:
        """Judge ``output``, which must have the size this judge was made for."""
        if output.size != self.size:
            raise ValueError(f"The judge was set up for {self.size}, not {output.size}.")
        features = self.network(self._tensor(output.convert("RGB")))
        style = torch.stack(
            [relative_distance(gram_matrix(features[name]), target) for name, target in self.style_targets.items()]
        ).mean()
        content = relative_distance(features[CONTENT_LAYER], self.content_target)
        return Distances(style=style.item(), content=content.item())

    def timeline(self, snapshots: Iterable[Snapshot]) -> list[Point]:
        """Judge the pictures taken during a run."""
        points = []
        for snapshot in snapshots:
            distances = self(snapshot.image)
            points.append(Point(snapshot.seconds, snapshot.iteration, distances.style, distances.content))
        return points


@lru_cache(maxsize=2)
def _default_network(device: str) -> VGG19Features:
    return judge_network(load_bundled_weights(), torch.device(device))


def judge(output: Image.Image, content: Image.Image, style: Image.Image, device: str = "cpu") -> tuple[float, float]:
    """Return (style distance, content distance) of ``output`` against its inputs; see the module's docstring."""
    distances = Judge(_default_network(device), content, style, output.size)(output)
    return distances.style, distances.content
