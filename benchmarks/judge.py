"""The judge: one fixed measure of how well a picture matches its style and content.

Both distances are taken at the output's size with the bundled original VGG19
(the Caffe weights the paper used) in fp32, whatever backbone or precision
produced the picture:

* style distance: the mean over relu1_1 … relu5_1 of ‖G(x) − G(s)‖² / ‖G(s)‖²,
  where G is the Gram matrix and s the style image;
* content distance: ‖F(x) − F(c)‖² / ‖F(c)‖² at relu4_2, where c is the content image;
* the style distance of each layer on its own, and the **texture distance**: their
  mean over the shallow layers relu1_1 … relu3_1 only. Those layers see at most
  24 pixels (relu3_1's receptive field): brushwork, colour and texture. relu4_1
  and relu5_1 see 60 and over 130 pixels, most of a 256 px picture, so their
  Gram matrices describe the painting's objects and composition, and a low
  distance there rewards copying them into the photo;
* the structure score of :mod:`benchmarks.structure` (higher is better): whether
  the photo's layout is still there.

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

from .structure import PhotoLayout

#: The paper's layers, fixed here so that the judge does not move with the engine's defaults.
CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: The layers of the texture distance: those whose receptive field is brushwork-sized (see the module's doc).
TEXTURE_LAYERS = STYLE_LAYERS[:3]


@dataclass(frozen=True)
class Distances:
    """The judge's verdict on one picture: distances (smaller is better) and the structure score (larger is)."""

    style: float
    """The paper's measure: the mean over all five style layers."""
    content: float
    texture: float
    """The mean over the shallow style layers, :data:`TEXTURE_LAYERS`."""
    structure: float
    """The photo's layout kept, 0–1 (:func:`benchmarks.structure.structure_score`)."""
    worst_region: float
    """The structure score of the worst region of a 3×3 grid."""
    layers: dict[str, float]
    """The style distance of each layer."""


@dataclass(frozen=True)
class Target:
    """A quality to reach: a style measure (``"style"`` or ``"texture"``) and the content distance, each at most."""

    name: str
    style_measure: str
    style: float
    content: float

    @classmethod
    def of(cls, name: str, distances: Distances, style_measure: str) -> Target:
        """The target set by a picture's distances."""
        return cls(name, style_measure, getattr(distances, style_measure), distances.content)

    def met_by(self, distances: Distances) -> bool:
        """Whether ``distances`` are at least as good as this target on both measures."""
        return getattr(distances, self.style_measure) <= self.style and distances.content <= self.content

    def __str__(self) -> str:
        return f"{self.style_measure} ≤ {self.style:.4g} and content ≤ {self.content:.4g}"


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
    distances: Distances

    @property
    def style(self) -> float:
        """The paper's style distance at this point."""
        return self.distances.style

    @property
    def content(self) -> float:
        """The content distance at this point."""
        return self.distances.content


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
        self.layout = PhotoLayout(network, content, size)
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
        output = output.convert("RGB")
        features = self.network(self._tensor(output))
        layers = {
            name: relative_distance(gram_matrix(features[name]), target).item()
            for name, target in self.style_targets.items()
        }
        structure = self.layout.score(output)
        return Distances(
            style=sum(layers.values()) / len(layers),
            content=relative_distance(features[CONTENT_LAYER], self.content_target).item(),
            texture=sum(layers[name] for name in TEXTURE_LAYERS) / len(TEXTURE_LAYERS),
            structure=structure.structure,
            worst_region=structure.worst_region,
            layers=layers,
        )

    def timeline(self, snapshots: Iterable[Snapshot]) -> list[Point]:
        """Judge the pictures taken during a run."""
        return [Point(snapshot.seconds, snapshot.iteration, self(snapshot.image)) for snapshot in snapshots]


@lru_cache(maxsize=2)
def _default_network(device: str) -> VGG19Features:
    return judge_network(load_bundled_weights(), torch.device(device))


def judge(output: Image.Image, content: Image.Image, style: Image.Image, device: str = "cpu") -> tuple[float, float]:
    """Return (style distance, content distance) of ``output`` against its inputs; see the module's docstring."""
    distances = Judge(_default_network(device), content, style, output.size)(output)
    return distances.style, distances.content
