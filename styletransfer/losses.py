"""Style, content and total-variation losses.

Every loss here is *relative*: a squared distance divided by the squared norm of
its target. That makes the losses independent of the scale of a backbone's
activations, so one set of weights works for both the Caffe-trained original
VGG19 (activations in the hundreds) and the torchvision retrain (activations
near one).

Two style losses compare a layer's feature statistics with the painting's:

* ``"gram"`` (Gatys et al.): the Gram matrix, the features' second raw moment;
* ``"wasserstein"``: the squared 2-Wasserstein distance between the Gaussians
  with the features' mean and covariance, which also matches the mean and
  sees a covariance's shape, not only its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from .tiling import Tile


def gram_matrix(features: Tensor, weights: Tensor | None = None) -> Tensor:
    """Return the Gram matrix of ``features`` (N, C, H, W) per position, in fp32.

    Dividing by the number of positions makes Grams of images of different
    sizes comparable, so a style image need not match the output's size. With
    ``weights`` (N or 1, 1, H, W), the Gram of a region (a guided Gram): each
    position counts by its weight squared, and the sum is divided by theirs.
    """
    (gram,) = moments(features, position_shares(weights, features.shape[-2:]), "gram")
    return gram


Shares = Tensor | float
"""Each position's share in a statistic: a map (N or 1, 1, H, W) summing to one over the whole picture, or one
number for every position alike."""

Moments = tuple[Tensor, ...]
"""Sums over positions that a style loss's statistics are made of (see :func:`moments`): summed over parts of a
picture, they give the whole picture's."""


def position_shares(weights: Tensor | None, size: Sequence[int]) -> Shares:
    """Each position's share (1, 1, H, W) of a map of (H, W) ``size`` in a region's statistics: the region
    ``weights`` (at that size) squared, summing to one (as Gatys et al. weigh guided features); for no region,
    ``1 / (H·W)``."""
    if weights is None:
        return 1.0 / (size[0] * size[1])
    squared = weights.float().pow(2)
    return squared / squared.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12)


def moments(features: Tensor, shares: Shares, kind: str) -> Moments:
    """The sums a style loss of ``kind`` is made of, over ``features`` (N, C, H, W), each position weighed by its
    ``shares``: ``"gram"``, the second moment Σ s·f·fᵀ (N, C, C); ``"wasserstein"``, also the mean Σ s·f (N, C),
    first."""
    n, c, h, w = features.shape
    # Positions × channels: a view of the network's channels-last maps, where channels × positions is a copy (in
    # the forward and again in the backward pass); 8 % of an evaluation at 384 px on an AVX2 CPU, same result.
    flat = features.permute(0, 2, 3, 1).reshape(n, h * w, c)
    if isinstance(shares, float):
        second = _SecondMoment.apply(flat, shares)  # no weighted copy of the features
        first = flat.float().sum(dim=1) * shares if kind == "wasserstein" else None
    else:
        weighted = flat.float() * shares.reshape(shares.shape[0], h * w, 1)
        second = _SecondMoment.apply(flat, weighted)
        first = weighted.sum(dim=1) if kind == "wasserstein" else None
    return (second,) if first is None else (first, second)


class _SecondMoment(torch.autograd.Function):
    """Σ s·f·fᵀ over positions, in fp32: ``flat`` (N, P, C) features by position, in the network's precision,
    ``shares`` one number or the features already weighed by their positions' shares (N, P, C, fp32).

    The result is symmetric, so its gradient with respect to the features is the weighed features times the
    symmetrised incoming gradient, one matrix product. Autograd's own backward of ``bmm(sᵀ·F, F)`` takes two
    products of the same size and adds their results, one of them transposed. That product runs in the features'
    own precision: the gradient it makes is theirs (bf16 features take a bf16 gradient), so an fp32 product would
    only be rounded afterwards."""

    @staticmethod
    def forward(ctx, flat: Tensor, shares: Tensor | float) -> Tensor:
        features = flat.float()
        weighted = shares if isinstance(shares, Tensor) else features
        scale = 1.0 if isinstance(shares, Tensor) else shares
        ctx.save_for_backward(flat if weighted is features else weighted.to(flat.dtype))
        ctx.scale = scale
        return torch.bmm(weighted.transpose(1, 2), features) * scale

    @staticmethod
    def backward(ctx, gradient: Tensor) -> tuple[Tensor, None]:
        (weighted,) = ctx.saved_tensors
        symmetric = ((gradient + gradient.transpose(1, 2)) * ctx.scale).to(weighted.dtype)
        return torch.bmm(weighted, symmetric), None


def statistics_of(parts: Moments, kind: str) -> Tensor:
    """The statistics a style loss of ``kind`` compares, from its :func:`moments`, packed in one tensor so that
    blends are weighted sums: ``"gram"``, the Gram matrix (N, C, C); ``"wasserstein"``, the covariance with the
    mean appended as a last row (N, C + 1, C)."""
    if kind == "gram":
        return parts[0]
    mean, second = parts
    covariance = second - mean.unsqueeze(2) * mean.unsqueeze(1)
    return torch.cat([covariance, mean.unsqueeze(1)], dim=1)


def relative_distance(value: Tensor, target: Tensor) -> Tensor:
    """Return ``‖value - target‖² / ‖target‖²`` in fp32."""
    target = target.float()
    return (value.float() - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)


class ContentLoss(nn.Module):
    """Relative distance between features and fixed content features; with ``weights`` (1, 1, H, W) on the
    target's map, each cell's squared distance counts by its weight (the norm it is relative to does not)."""

    def __init__(self, target: Tensor, weights: Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("target", target.detach().float())
        self.register_buffer("weights", None if weights is None else weights.detach().float())
        self.target_norm = self.target.pow(2).sum().clamp_min(1e-12)

    def forward(self, features: Tensor, place: tuple[slice, slice] | None = None) -> Tensor:
        """The distance, or with ``place`` (rows, columns of the target's map) the part of it that ``features``,
        the cells at that place, make up."""
        target, weights = self.target, self.weights
        if place is not None:
            target = target[..., place[0], place[1]]
            weights = None if weights is None else weights[..., place[0], place[1]]
        squared = (features.float() - target).pow(2)
        return (squared if weights is None else squared * weights).sum() / self.target_norm


def mean_and_covariance(features: Tensor, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The per-channel mean (N, C) and covariance (N, C, C) of ``features`` (N, C, H, W) over positions, in fp32;
    with ``weights``, over a region (see :func:`gram_matrix`)."""
    packed = style_statistics(features, "wasserstein", weights)
    return packed[:, -1], packed[:, :-1]


def style_statistics(features: Tensor, kind: str, weights: Tensor | None = None) -> Tensor:
    """The statistics a style loss of ``kind`` compares (see :func:`statistics_of`); with ``weights``, of a region
    only (see :func:`gram_matrix`)."""
    return statistics_of(moments(features, position_shares(weights, features.shape[-2:]), kind), kind)


def _psd_sqrt(matrix: Tensor) -> Tensor:
    """The square root of a symmetric positive semi-definite matrix (negative rounding errors clipped)."""
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag_embed(values.clamp_min(0).sqrt()) @ vectors.transpose(-1, -2)


class StyleLoss(nn.Module):
    """Relative distance between a layer's feature statistics and the painting's (see the module's doc)."""

    def __init__(self, target: Tensor, kind: str = "gram") -> None:
        super().__init__()
        self.kind = kind
        self.register_buffer("target", target.detach().float())
        if kind == "wasserstein":
            covariance, mean = target[:, :-1].float(), target[:, -1].float()
            self.register_buffer("target_mean", mean)
            self.register_buffer("target_covariance_sqrt", _psd_sqrt(covariance.double()).float())
            self.target_trace = torch.diagonal(covariance, dim1=-2, dim2=-1).sum(-1)
            self.target_norm = (mean.pow(2).sum(-1) + self.target_trace).sum().clamp_min(1e-12)

    def forward(self, features: Tensor, weights: Tensor | None = None) -> Tensor:
        """The distance of ``features``' statistics (of the region ``weights``, if given) from the target's."""
        return self.distance(moments(features, position_shares(weights, features.shape[-2:]), self.kind))

    def distance(self, parts: Moments) -> Tensor:
        """The distance of the statistics made of ``parts`` (see :func:`moments`) from the target's."""
        if self.kind == "gram":
            return relative_distance(parts[0], self.target)
        return self._wasserstein(parts)

    def _wasserstein(self, parts: Moments) -> Tensor:
        """W2² = ‖μ − μₛ‖² + tr Σ + tr Σₛ − 2 tr (Σₛ^½ Σ Σₛ^½)^½, relative to the painting's ‖μₛ‖² + tr Σₛ."""
        packed = statistics_of(parts, self.kind)
        mean, covariance = packed[:, -1], packed[:, :-1]
        root = self.target_covariance_sqrt
        # The eigenvalues' square roots: their gradient grows without bound near zero, so tiny ones are floored.
        product = root @ covariance @ root
        eigenvalues = torch.linalg.eigvalsh(0.5 * (product + product.transpose(-1, -2)))
        floor = 1e-6 * self.target_trace.unsqueeze(-1) / eigenvalues.shape[-1]
        cross = eigenvalues.clamp_min(0).add(floor).sqrt().sum(-1)
        trace = torch.diagonal(covariance, dim1=-2, dim2=-1).sum(-1)
        distance = (mean - self.target_mean).pow(2).sum(-1) + trace + self.target_trace - 2 * cross
        return distance.clamp_min(0).sum() / self.target_norm


def total_variation(image: Tensor) -> Tensor:
    """Return the mean squared difference between neighbouring pixels of ``image``."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


class TemporalLoss(nn.Module):
    """The short-term temporal loss of Ruder et al. (2016): the mean squared difference between the picture and
    the previous stylised frame warped to it, each pixel weighed by how far the flow can be trusted there
    (0 at occlusions and motion boundaries; see :func:`styletransfer.flow.reliable`), times ``weight``."""

    def __init__(self, warped: Tensor, trust: Tensor, weight: float) -> None:
        super().__init__()
        self.register_buffer("warped", warped.detach().float())
        self.register_buffer("trust", trust.detach().float())
        self.weight = weight

    def forward(self, image: Tensor) -> Tensor:
        """The weighted loss of ``image`` (1, 3, H, W)."""
        return self.weight * (self.trust * (image.float() - self.warped).pow(2)).mean()


LossTerms = dict[str, Tensor]
"""The objective's terms by name, each already multiplied by its weight: ``total`` (their sum, the one the
optimiser minimises), then ``content``, ``style`` and ``tv``."""


@dataclass
class StyleRegion:
    """One style's targets and where on the picture they apply."""

    targets: dict[str, Tensor]
    """The style's statistics per layer (see :func:`style_statistics`)."""
    weight: float = 1.0
    """How much this region's style loss counts."""
    weights: Tensor | None = None
    """The region (1, 1, H, W) at the picture's size, in [0, 1]; ``None``: the whole picture."""


class Objective(nn.Module):
    """The weighted sum of content, style and total-variation losses.

    Built once per scale from the target features; ``forward`` maps the
    network's features of the image (and the image itself, for the TV term)
    to the named, weighted :data:`LossTerms`. The style term sums each
    :class:`StyleRegion`'s loss (a dict of targets is one region: the whole
    picture); a region's loss is the mean of its layers' losses weighted by
    ``style_layer_weights`` (equal by default). ``content_weights`` (1, 1, H, W)
    at the picture's size weighs the content term pixel by pixel (see
    :meth:`~styletransfer.regions.Regions.content_weights`).

    The content term and the style term's :func:`moments` are sums over the
    picture's cells, so they can also be taken a tile at a time
    (:mod:`styletransfer.tiling`): ``content_part`` and ``style_moments`` with
    a ``tile`` give one tile's share, ``style_of`` the style term of the summed
    moments, and ``weighted`` the terms.
    """

    def __init__(
        self,
        content_targets: dict[str, Tensor],
        style_targets: dict[str, Tensor] | Sequence[StyleRegion],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
        *,
        style_loss: str = "gram",
        style_layer_weights: dict[str, float] | None = None,
        content_weights: Tensor | None = None,
    ) -> None:
        super().__init__()
        regions = [StyleRegion(style_targets)] if isinstance(style_targets, dict) else list(style_targets)
        layers = list(regions[0].targets)
        self.kind = style_loss
        self.content_losses = nn.ModuleDict(
            {
                name: ContentLoss(t, None if content_weights is None else cell_means(content_weights, t.shape[-2:]))
                for name, t in content_targets.items()
            }
        )
        self.style_losses = nn.ModuleList(
            nn.ModuleDict({name: StyleLoss(t, style_loss) for name, t in region.targets.items()}) for region in regions
        )
        self.region_weights = [region.weight for region in regions]
        self.regions = [region.weights for region in regions]
        self._shares: dict[tuple[int, str], Shares] = {}
        layer_weights = style_layer_weights or dict.fromkeys(layers, 1.0)
        total_weight = sum(layer_weights[name] for name in layers)
        self.style_layer_weights = {name: layer_weights[name] / total_weight for name in layers}
        self.weights = {"content": content_weight, "style": style_weight, "tv": tv_weight}

    def forward(self, features: dict[str, Tensor], image: Tensor) -> LossTerms:
        """The terms for the whole picture's ``features`` and the picture ``image`` itself."""
        return self.weighted(
            self.content_part(features), self.style_of(self.style_moments(features)), total_variation(image.float())
        )

    def weighted(self, content: Tensor, style: Tensor, tv: Tensor) -> LossTerms:
        """The named terms, each multiplied by its weight, and their total."""
        raw = {"content": content, "style": style, "tv": tv}
        weighted = {name: self.weights[name] * value for name, value in raw.items()}
        return {"total": sum(weighted.values()), **weighted}

    def content_part(self, features: dict[str, Tensor], tile: Tile | None = None) -> Tensor:
        """The content loss of ``features``, or with ``tile`` the share of it that the tile's own cells make up
        (the tiles' shares sum to the whole picture's loss)."""
        return _mean(
            loss(features[name]) if tile is None else loss(tile.own_cells(name, features[name]), tile.place(name))
            for name, loss in self.content_losses.items()
        )

    def style_moments(self, features: dict[str, Tensor], tile: Tile | None = None) -> dict[tuple[int, str], Moments]:
        """Each region's and style layer's :func:`moments` of ``features``, or with ``tile`` of the tile's own
        cells only (the tiles' moments sum to the whole picture's)."""
        return {
            (index, name): own_moments(
                features[name], name, tile, self._shares_at(index, name, features, tile), self.kind
            )
            for index, losses in enumerate(self.style_losses)
            for name in losses
        }

    def style_of(self, parts: dict[tuple[int, str], Moments]) -> Tensor:
        """The style loss of the whole picture, from its :meth:`style_moments`: each region's layers' losses
        weighted, and the regions' summed by their weights."""
        return sum(
            weight
            * sum(self.style_layer_weights[name] * loss.distance(parts[index, name]) for name, loss in losses.items())
            for index, (weight, losses) in enumerate(zip(self.region_weights, self.style_losses, strict=True))
        )

    def _shares_at(self, index: int, layer: str, features: dict[str, Tensor], tile: Tile | None) -> Shares:
        """Each cell's share in region ``index`` on ``layer``'s map of the whole picture; computed once."""
        key = (index, layer)
        if key not in self._shares:
            size = tuple(features[layer].shape[-2:]) if tile is None else tile.layer_shape(layer)
            self._shares[key] = position_shares(region_at(self.regions[index], size), size)
        return self._shares[key]


def own_moments(features: Tensor, layer: str, tile: Tile | None, shares: Shares, kind: str) -> Moments:
    """The :func:`moments` of a layer's ``features`` with the whole map's ``shares``: of all of them, or of the
    ``tile``'s own cells only (``features`` then being the tile window's map)."""
    if tile is None:
        return moments(features, shares, kind)
    if not isinstance(shares, float):
        rows, columns = tile.place(layer)
        shares = shares[..., rows, columns]
    return moments(tile.own_cells(layer, features), shares, kind)


def cell_means(weights: Tensor, size: Sequence[int]) -> Tensor:
    """Pixel ``weights`` (1, 1, H, W) on a layer's map of (H, W) ``size``: each cell the mean of its pixels."""
    return F.adaptive_avg_pool2d(weights, tuple(size))


def region_at(weights: Tensor | None, size: Sequence[int]) -> Tensor | None:
    """Region ``weights`` (1, 1, H, W) on a layer's map of (H, W) ``size``: each cell's share in the region,
    eroded by one cell (as Gatys et al. erode their guides), so that cells whose receptive fields straddle a
    border count less; ``None`` (the whole picture) stays ``None``.

    Measured with a half mask on a 128 px photo: the change just past the border fell from 26 to 15 (of 255)
    against plain resizing, and two styles met with a softer seam."""
    if weights is None:
        return None
    return -F.max_pool2d(-cell_means(weights, size), 3, stride=1, padding=1)


def _mean(values) -> Tensor:
    values = list(values)
    return torch.stack(values).mean()
