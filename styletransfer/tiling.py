"""Exact evaluation of the objective tile by tile, for pictures too big to evaluate at once.

After Galerne, Raad, Lezama and Morel, "Scaling Painting Style Transfer" (2022):
every loss here is a sum over the cells of the network's maps, or a function of
such sums (a Gram matrix is Σ f·fᵀ over positions). So one evaluation takes two
passes over overlapping tiles:

1. without gradients, each tile's features, and the sums the style loss is made
   of (:func:`~styletransfer.losses.moments`), added up over the tiles; the style
   loss of the whole picture then follows, and its slope with respect to those
   sums (``∂L/∂G``);
2. each tile again, forward and backward, with a stand-in loss whose gradient is
   the true one: the slope (fixed) times the tile's own sums, plus the tile's
   share of the content loss. The gradients of the tiles' windows add up to the
   whole picture's.

The picture is cut into *cores* that share no pixel; a tile's *window* is its
core grown by a margin on each side. A tile counts only the cells of its core,
and a cell is computed exactly when its receptive field lies inside the window:
the margin covers the deepest layer's reach (:func:`~styletransfer.features.
layer_reach`, 70 px for relu5_1), rounded up to that layer's stride (16 px) so
that every window's poolings line up with the whole picture's. The gradient is
therefore the untiled one, up to float rounding, at the cost of computing each
margin again: a window of core + 2 × 80 px, plus the first pass's forward.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import Tensor

from .features import VGG19Features, layer_reach, layer_size, layer_stride
from .losses import (
    LossTerms,
    Moments,
    Objective,
    own_moments,
    position_shares,
    region_at,
    statistics_of,
    total_variation,
)


@dataclass(frozen=True)
class Tile:
    """One tile of a picture: its core (the pixels it owns) and its window (the core and a margin), each as
    (top, left, bottom, right) in pixels."""

    picture: tuple[int, int]
    """The whole picture's (height, width)."""
    core: tuple[int, int, int, int]
    window: tuple[int, int, int, int]

    @property
    def pixels(self) -> tuple[slice, slice, slice, slice]:
        """Index of the window's pixels in an (N, C, H, W) picture."""
        top, left, bottom, right = self.window
        return slice(None), slice(None), slice(top, bottom), slice(left, right)

    def place(self, layer: str) -> tuple[slice, slice]:
        """Rows and columns of the core's cells on ``layer``'s map of the whole picture."""
        stride = layer_stride(layer)
        top, left, bottom, right = self.core
        return slice(top // stride, bottom // stride), slice(left // stride, right // stride)

    def own_cells(self, layer: str, features: Tensor) -> Tensor:
        """The core's cells of ``features``, ``layer``'s map of the window."""
        stride = layer_stride(layer)
        rows, columns = self.place(layer)
        top, left = self.window[0] // stride, self.window[1] // stride
        return features[..., rows.start - top : rows.stop - top, columns.start - left : columns.stop - left]

    def layer_shape(self, layer: str) -> tuple[int, int]:
        """(H, W) of ``layer``'s map of the whole picture."""
        return layer_size(self.picture, layer)


def margin_for(layers: Sequence[str]) -> int:
    """The margin, in pixels, that makes every cell of a core exact at all ``layers``: the deepest one's reach,
    rounded up to its stride."""
    deepest = max(layers, key=layer_reach)
    stride = max(layer_stride(name) for name in layers)
    return math.ceil(layer_reach(deepest) / stride) * stride


def alignment_for(layers: Sequence[str]) -> int:
    """The step, in pixels, that tiles' edges keep to so that every window pools as the whole picture does."""
    return max(layer_stride(name) for name in layers)


def cut(picture: tuple[int, int], core: int, layers: Sequence[str]) -> list[Tile]:
    """Cut a picture of (height, width) ``picture`` into tiles whose cores are at most ``core`` pixels a side
    (a multiple of the alignment, as even as it allows), with the margin ``layers`` need."""
    align = alignment_for(layers)
    if core < align:
        raise ValueError(f"A tile's core must be at least {align} px; got {core}.")
    margin = margin_for(layers)
    rows, columns = (_edges(side, core, align) for side in picture)
    height, width = picture
    return [
        Tile(
            picture,
            (top, left, bottom, right),
            (max(0, top - margin), max(0, left - margin), min(height, bottom + margin), min(width, right + margin)),
        )
        for top, bottom in pairwise(rows)
        for left, right in pairwise(columns)
    ]


def whole(picture: tuple[int, int]) -> list[Tile]:
    """The whole picture of (height, width) ``picture`` as one tile."""
    everything = (0, 0, *picture)
    return [Tile(picture, everything, everything)]


def _edges(side: int, core: int, align: int) -> list[int]:
    """The edges of cores along one side: at most ``core`` apart, on multiples of ``align``, ending at ``side``."""
    core = core // align * align
    step = math.ceil(side / math.ceil(side / core) / align) * align
    return [*range(0, side, step), side]


@torch.no_grad()
def summed_over_tiles(
    net: VGG19Features,
    image: Tensor,
    tiles: Sequence[Tile],
    measure: Callable[[dict[str, Tensor], Tile], dict],
) -> dict:
    """``measure`` (features of a window, its tile) → a dict of tensors or tuples of tensors, summed over
    ``tiles``: any sum over cells of the whole picture, a tile at a time and without gradients."""
    total: dict = {}
    for tile, features in _windows(net, image, tiles):
        for key, value in measure(features, tile).items():
            total[key] = value if key not in total else _added(total[key], value)
    return total


@torch.no_grad()
def assembled(net: VGG19Features, image: Tensor, tiles: Sequence[Tile], layers: Sequence[str]) -> dict[str, Tensor]:
    """The whole picture's maps at ``layers``, put together from each tile's own cells."""
    maps: dict[str, Tensor] = {}
    for tile, features in _windows(net, image, tiles):
        for name in layers:
            cells = tile.own_cells(name, features[name])
            if name not in maps:
                height, width = tile.layer_shape(name)
                maps[name] = cells.new_empty((*cells.shape[:2], height, width))
            maps[name][(..., *tile.place(name))] = cells
    return maps


def statistics(
    net: VGG19Features,
    image: Tensor,
    tiles: Sequence[Tile],
    layers: Sequence[str],
    kind: str,
    region: Tensor | None = None,
) -> dict[str, Tensor]:
    """The style statistics (see :func:`~styletransfer.losses.statistics_of`) of ``image`` at ``layers``, of the
    ``region`` (1, 1, H, W) only if given, summed over ``tiles``."""
    picture = tuple(image.shape[-2:])
    shares = {
        name: position_shares(region_at(region, layer_size(picture, name)), layer_size(picture, name))
        for name in layers
    }

    def measure(features: dict[str, Tensor], tile: Tile) -> dict[str, Moments]:
        return {name: own_moments(features[name], name, tile, shares[name], kind) for name in layers}

    sums = summed_over_tiles(net, image, tiles, measure)
    return {name: statistics_of(parts, kind) for name, parts in sums.items()}


def evaluate(image: Tensor, net: VGG19Features, objective: Objective, tiles: Sequence[Tile]) -> LossTerms:
    """The objective's terms at ``image``, tile by tile, with their gradient added to ``image.grad``: the same
    terms and gradient as one evaluation of the whole picture (see the module's doc)."""
    picture = image.detach()
    sums = summed_over_tiles(net, picture, tiles, objective.style_moments)
    leaves = {key: tuple(part.requires_grad_(True) for part in parts) for key, parts in sums.items()}
    style = objective.style_of(leaves)
    flat = [part for parts in leaves.values() for part in parts]
    slopes = iter(torch.autograd.grad(objective.weights["style"] * style, flat))
    slope_of = {key: tuple(next(slopes) for _ in parts) for key, parts in leaves.items()}

    gradient = torch.zeros_like(picture)
    content = torch.zeros((), device=picture.device)
    for tile in tiles:
        window = picture[tile.pixels].detach().requires_grad_(True)
        features = net(window)
        own_content = objective.content_part(features, tile)
        own_style = _paired(slope_of, objective.style_moments(features, tile))
        stand_in = objective.weights["content"] * own_content + own_style
        stand_in.backward()
        gradient[tile.pixels] += window.grad
        content += own_content.detach()
        del features, own_style, stand_in, window

    image_for_tv = picture.detach().requires_grad_(True)
    terms = objective.weighted(content, style.detach(), total_variation(image_for_tv.float()))
    terms["tv"].backward()
    gradient += image_for_tv.grad
    if image.grad is None:
        image.grad = gradient
    else:
        image.grad += gradient
    return {name: term.detach() for name, term in terms.items()}


def _windows(net: VGG19Features, image: Tensor, tiles: Sequence[Tile]) -> Iterator[tuple[Tile, dict[str, Tensor]]]:
    for tile in tiles:
        yield tile, net(image[tile.pixels])


def _added(total, value):
    if isinstance(total, tuple):
        return tuple(a + b for a, b in zip(total, value, strict=True))
    return total + value


def _paired(slopes: dict[tuple[int, str], Moments], parts: dict[tuple[int, str], Moments]) -> Tensor:
    """Σ slope · part over every region, layer and moment: the stand-in whose gradient is the style loss's."""
    return sum(
        (slope * part).sum() for key, moments in parts.items() for slope, part in zip(slopes[key], moments, strict=True)
    )
