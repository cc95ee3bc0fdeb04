"""The settings of one stylization, validated when they are made."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

Optimizer = Literal["lbfgs", "adam"]
ColorMode = Literal["none", "luminance", "histogram"]
Init = Literal["content", "noise", "style"]
Pooling = Literal["max", "avg"]
StyleLossKind = Literal["gram", "wasserstein"]

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: How much less each style layer counts than the one before it, by default: deep layers see whole objects of the
#: painting at the working sizes, and weighing them as much as the shallow ones copies those objects into the photo.
STYLE_LAYER_FALL = 4.0
#: The smallest side, in pixels, that the deepest style layer (after four poolings) can use.
MIN_SIDE = 32

_CHOICES = {
    "optimizer": ("lbfgs", "adam"),
    "preserve_color": ("none", "luminance", "histogram"),
    "init": ("content", "noise", "style"),
    "pooling": ("max", "avg"),
    "style_loss": ("gram", "wasserstein"),
}


@dataclass(frozen=True)
class StyleConfig:
    """Settings of one stylization. Every field has a default that gives a good picture.

    The loss weights multiply *relative* losses (see :mod:`styletransfer.losses`),
    so they mean the same on every backbone and at every size.
    """

    size: int = 512
    """Long side of the output in pixels; never more than the content image's own."""
    iterations: int = 60
    """Optimiser iterations at the full output size. Coarser scales run ``coarse_iterations``."""
    coarse_iterations: int = 40
    """Iterations at each scale below the output size."""
    scales: int = 3
    """Number of scales, coarse to fine; 1 optimises at the output size only."""
    min_size: int = 128
    """Long side of the coarsest scale."""
    optimizer: Optimizer = "lbfgs"
    learning_rate: float = 0.02
    """Adam's step size in the [0, 1] pixel range (L-BFGS ignores it)."""
    style_strength: float = 2.0
    """log10 of the style weight: 2 means style losses count 100× one unit of content loss."""
    content_weight: float = 1.0
    tv_weight: float = 5.0
    """Weight of the total-variation smoothness term."""
    style_scale: float = 1.0
    """Style image long side relative to the output's at each scale (bigger = larger brush strokes)."""
    style_weights: tuple[float, ...] | None = None
    """Blend weights, one per style image; ``None`` weighs them equally."""
    preserve_color: ColorMode = "none"
    init: Init = "content"
    pooling: Pooling = "max"
    seed: int = 0
    preview_every: int = 10
    """A preview image comes with every this-many iterations (0: only the final image)."""
    time_limit: float | None = None
    """Seconds after which the job ends with the picture it has (``None``: no limit)."""
    work_limit: float | None = None
    """The largest job accepted, in megapixel-iterations: each scale's pixel count times its iterations, summed,
    in millions (``None``: no limit). A bigger job is refused before it starts."""
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None
    """Relative weight of each style layer, in ``style_layers`` order; ``None``: each counts
    :data:`STYLE_LAYER_FALL` times less than the one before (256:64:16:4:1 for the five default layers)."""
    style_loss: StyleLossKind = "gram"
    """What a style layer matches: its Gram matrix, or its mean and covariance (2-Wasserstein)."""

    def __post_init__(self) -> None:
        for name, options in _CHOICES.items():
            if getattr(self, name) not in options:
                raise ValueError(f"{name} must be one of {', '.join(options)}; got {getattr(self, name)!r}.")
        _check_int("size", self.size, MIN_SIDE, 16384)
        _check_int("iterations", self.iterations, 1, 100_000)
        _check_int("coarse_iterations", self.coarse_iterations, 0, 100_000)
        _check_int("scales", self.scales, 1, 10)
        _check_int("min_size", self.min_size, MIN_SIDE, 16384)
        _check_int("preview_every", self.preview_every, 0, 100_000)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_float("learning_rate", self.learning_rate, 1e-6, 10.0)
        _check_float("style_strength", self.style_strength, -3.0, 9.0)
        _check_float("content_weight", self.content_weight, 0.0, 1e6)
        _check_float("tv_weight", self.tv_weight, 0.0, 1e6)
        _check_float("style_scale", self.style_scale, 0.1, 4.0)
        if self.time_limit is not None:
            _check_float("time_limit", self.time_limit, 0.0, 86_400.0)
        if self.work_limit is not None:
            _check_float("work_limit", self.work_limit, 0.0, 1e9)
        if self.style_weights is not None:
            weights = tuple(float(w) for w in self.style_weights)
            if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
                raise ValueError("style_weights must be non-negative numbers with a positive sum.")
            object.__setattr__(self, "style_weights", weights)
        if self.style_layer_weights is not None:
            layer_weights = tuple(float(w) for w in self.style_layer_weights)
            if len(layer_weights) != len(self.style_layers):
                raise ValueError(
                    f"style_layer_weights needs one weight per style layer ({len(self.style_layers)}); "
                    f"got {len(layer_weights)}."
                )
            if any(not math.isfinite(w) or w < 0 for w in layer_weights) or sum(layer_weights) <= 0:
                raise ValueError("style_layer_weights must be non-negative numbers with a positive sum.")
            object.__setattr__(self, "style_layer_weights", layer_weights)
        if not self.content_layers or not self.style_layers:
            raise ValueError("content_layers and style_layers must each name at least one layer.")

    @property
    def layer_weights(self) -> dict[str, float]:
        """Each style layer's relative weight, as set or by default (see ``style_layer_weights``)."""
        count = len(self.style_layers)
        weights = self.style_layer_weights or tuple(STYLE_LAYER_FALL ** (count - 1 - i) for i in range(count))
        return dict(zip(self.style_layers, weights, strict=True))

    @property
    def style_weight(self) -> float:
        """The style weight that ``style_strength`` stands for."""
        return 10.0**self.style_strength

    def updated(self, **changes: Any) -> StyleConfig:
        """Return a copy with ``changes`` applied (and validated)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise TypeError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
        return replace(self, **changes)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}; got {value!r}.")


def _check_float(name: str, value: object, low: float, high: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}; got {value!r}.")
