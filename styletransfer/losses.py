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

import torch
from torch import Tensor, nn


def gram_matrix(features: Tensor) -> Tensor:
    """Return the Gram matrix of ``features`` (N, C, H, W) per position, in fp32.

    Dividing by the number of positions makes Grams of images of different
    sizes comparable, so a style image need not match the output's size.
    """
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w).float()
    return torch.bmm(flat, flat.transpose(1, 2)) / (h * w)


def relative_distance(value: Tensor, target: Tensor) -> Tensor:
    """Return ``‖value - target‖² / ‖target‖²`` in fp32."""
    target = target.float()
    return (value.float() - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)


class ContentLoss(nn.Module):
    """Relative distance between features and fixed content features."""

    def __init__(self, target: Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target.detach().float())

    def forward(self, features: Tensor) -> Tensor:
        return relative_distance(features, self.target)


def mean_and_covariance(features: Tensor) -> tuple[Tensor, Tensor]:
    """The per-channel mean (N, C) and covariance (N, C, C) of ``features`` (N, C, H, W) over positions, in fp32."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w).float()
    mean = flat.mean(dim=2)
    centred = flat - mean.unsqueeze(2)
    return mean, torch.bmm(centred, centred.transpose(1, 2)) / (h * w)


def style_statistics(features: Tensor, kind: str) -> Tensor:
    """The statistics a style loss of ``kind`` compares, packed in one tensor so that blends are weighted sums.

    ``"gram"``: the Gram matrix (N, C, C). ``"wasserstein"``: the covariance with the
    mean appended as a last row (N, C + 1, C).
    """
    if kind == "gram":
        return gram_matrix(features)
    mean, covariance = mean_and_covariance(features)
    return torch.cat([covariance, mean.unsqueeze(1)], dim=1)


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

    def forward(self, features: Tensor) -> Tensor:
        if self.kind == "gram":
            return relative_distance(gram_matrix(features), self.target)
        return self._wasserstein(features)

    def _wasserstein(self, features: Tensor) -> Tensor:
        """W2² = ‖μ − μₛ‖² + tr Σ + tr Σₛ − 2 tr (Σₛ^½ Σ Σₛ^½)^½, relative to the painting's ‖μₛ‖² + tr Σₛ."""
        mean, covariance = mean_and_covariance(features)
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


LossTerms = dict[str, Tensor]
"""The objective's terms by name, each already multiplied by its weight: ``total`` (their sum, the one the
optimiser minimises), then ``content``, ``style`` and ``tv``."""


class Objective(nn.Module):
    """The weighted sum of content, style and total-variation losses.

    Built once per scale from the target features; ``forward`` maps the
    network's features of the image (and the image itself, for the TV term)
    to the named, weighted :data:`LossTerms`. The style term is the mean of the
    layers' losses weighted by ``style_layer_weights`` (equal by default).
    """

    def __init__(
        self,
        content_targets: dict[str, Tensor],
        style_targets: dict[str, Tensor],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
        *,
        style_loss: str = "gram",
        style_layer_weights: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.content_losses = nn.ModuleDict({name: ContentLoss(t) for name, t in content_targets.items()})
        self.style_losses = nn.ModuleDict({name: StyleLoss(t, style_loss) for name, t in style_targets.items()})
        layer_weights = style_layer_weights or dict.fromkeys(style_targets, 1.0)
        total_weight = sum(layer_weights[name] for name in style_targets)
        self.style_layer_weights = {name: layer_weights[name] / total_weight for name in style_targets}
        self.weights = {"content": content_weight, "style": style_weight, "tv": tv_weight}

    def forward(self, features: dict[str, Tensor], image: Tensor) -> LossTerms:
        raw = {
            "content": _mean(loss(features[name]) for name, loss in self.content_losses.items()),
            "style": sum(
                self.style_layer_weights[name] * loss(features[name]) for name, loss in self.style_losses.items()
            ),
            "tv": total_variation(image.float()),
        }
        weighted = {name: self.weights[name] * value for name, value in raw.items()}
        return {"total": sum(weighted.values()), **weighted}


def _mean(values) -> Tensor:
    values = list(values)
    return torch.stack(values).mean()
