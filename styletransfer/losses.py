"""Style, content and total-variation losses.

Every loss here is *relative*: a squared distance divided by the squared norm of
its target. That makes the losses independent of the scale of a backbone's
activations, so one set of weights works for both the Caffe-trained original
VGG19 (activations in the hundreds) and the torchvision retrain (activations
near one).
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


class StyleLoss(nn.Module):
    """Relative distance between the Gram matrix of features and a target Gram."""

    def __init__(self, target_gram: Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target_gram.detach().float())

    def forward(self, features: Tensor) -> Tensor:
        return relative_distance(gram_matrix(features), self.target)


def total_variation(image: Tensor) -> Tensor:
    """Return the mean squared difference between neighbouring pixels of ``image``."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


class Objective(nn.Module):
    """The weighted sum of content, style and total-variation losses.

    Built once per scale from the target features; ``forward`` maps the
    network's features of the image (and the image itself, for the TV term)
    to a tensor ``[total, content, style, tv]``.
    """

    def __init__(
        self,
        content_targets: dict[str, Tensor],
        style_targets: dict[str, Tensor],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
    ) -> None:
        super().__init__()
        self.content_losses = nn.ModuleDict({name: ContentLoss(t) for name, t in content_targets.items()})
        self.style_losses = nn.ModuleDict({name: StyleLoss(t) for name, t in style_targets.items()})
        self.weights = (content_weight, style_weight, tv_weight)

    def forward(self, features: dict[str, Tensor], image: Tensor) -> Tensor:
        content = _mean(loss(features[name]) for name, loss in self.content_losses.items())
        style = _mean(loss(features[name]) for name, loss in self.style_losses.items())
        tv = total_variation(image.float())
        content_weight, style_weight, tv_weight = self.weights
        total = content_weight * content + style_weight * style + tv_weight * tv
        return torch.stack([total, content, style, tv])


def _mean(values) -> Tensor:
    values = list(values)
    return torch.stack(values).mean()
