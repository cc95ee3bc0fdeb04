"""The settings of one stylization, described once (see :mod:`styletransfer.settings`) and validated when made."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from .settings import Setting, setting, settings_of

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: How much less each style layer counts than the one before it, by default: deep layers see whole objects of the
#: painting at the working sizes, and weighing them as much as the shallow ones copies those objects into the photo.
STYLE_LAYER_FALL = 4.0
#: The smallest side, in pixels, that the deepest style layer (after four poolings) can use.
MIN_SIDE = 32


@dataclass(frozen=True)
class StyleConfig:
    """Settings of one stylization. Every field has a default that gives a good picture.

    Each field is described once, with :func:`~styletransfer.settings.setting`: its
    range or choices, its help, and where the page shows it. The checks here, the
    command line's flags and the page's widgets are all made from that description
    (see :data:`SETTINGS`).

    The loss weights multiply *relative* losses (see :mod:`styletransfer.losses`),
    so they mean the same on every backbone and at every size.
    """

    size: int = setting(
        512, "whole", "Output size (long side, px)", "long side of the output in pixels; never more than the photo's",
        low=MIN_SIDE, high=16384, step=16, row=0, short_flag="-s",
    )  # fmt: skip
    iterations: int = setting(
        40, "whole", "Iterations at full size", "optimiser iterations at the output size",
        low=1, high=100_000, step=1, row=0, short_flag="-i",
    )  # fmt: skip
    coarse_iterations: int = setting(
        40, "whole", "Iterations at each coarser scale", "optimiser iterations at each scale below the output size",
        low=0, high=100_000, step=1, row=1,
    )  # fmt: skip
    scales: int = setting(
        3, "whole", "Scales", "number of scales, coarse to fine (1: the output size only)",
        low=1, high=6, step=1, row=1,
    )  # fmt: skip
    min_size: int = setting(
        128, "whole", "Coarsest scale (long side, px)", "long side of the coarsest scale",
        low=MIN_SIDE, high=16384, step=16, row=1,
    )  # fmt: skip
    optimizer: str = setting(
        "lbfgs", "choice", "Optimiser", "L-BFGS (fewer, better steps) or Adam",
        choices=(("lbfgs", "L-BFGS"), ("adam", "Adam")), row=3,
    )  # fmt: skip
    learning_rate: float = setting(
        0.02, "number", "Adam step size", "Adam's step size in the [0, 1] pixel range (L-BFGS ignores it)",
        low=0.001, high=1.0, step=0.001, row=3,
    )  # fmt: skip
    style_strength: float = setting(
        1.8, "number", "Style strength (log₁₀ of the style weight)",
        "log10 of the style weight: 2 means style counts 100× one unit of content",
        low=-1.0, high=4.0, step=0.1, row=2,
    )  # fmt: skip
    content_weight: float = setting(
        1.0, "number", "Content weight", "how much the photo's layout counts",
        low=0.0, high=10.0, step=0.1, row=2,
    )  # fmt: skip
    tv_weight: float = setting(
        5.0, "number", "Smoothness (TV weight)", "weight of the total-variation smoothness term",
        low=0.0, high=100.0, step=0.5, row=2,
    )  # fmt: skip
    style_scale: float = setting(
        1.0, "number", "Style scale (brush size)",
        "style image's long side relative to the output's at each scale (bigger: larger brush strokes)",
        low=0.25, high=4.0, step=0.05, row=2,
    )  # fmt: skip
    style_weights: tuple[float, ...] | None = setting(
        None, "numbers", "Style blend", "blend weights, one per style image (none: equal)", optional=True,
    )  # fmt: skip
    preserve_color: str = setting(
        "none", "choice", "Colour", "keep the style's colours, or the photo's (luminance only, or histogram match)",
        choices=(
            ("none", "Style's colours"),
            ("luminance", "Photo's colours (luminance only)"),
            ("histogram", "Photo's colours (histogram match)"),
        ),
        row=3,
    )  # fmt: skip
    init: str = setting(
        "content", "choice", "Start from", "the picture the optimiser starts from",
        choices=(("content", "The photo"), ("noise", "Noise"), ("style", "The style image")), row=3,
    )  # fmt: skip
    pooling: str = setting(
        "max", "choice", "Pooling", "the backbone's pooling (average gives softer pictures)",
        choices=(("max", "Max"), ("avg", "Average")), row=4,
    )  # fmt: skip
    style_loss: str = setting(
        "gram", "choice", "Style loss",
        "what a style layer matches: its Gram matrix (Gatys), or its mean and covariance (2-Wasserstein)",
        choices=(("gram", "Gram matrix"), ("wasserstein", "Mean and covariance")), row=5,
    )  # fmt: skip
    seed: int = setting(
        0, "whole", "Seed (for the noise start)", "random seed for the noise start", low=0, high=2**63 - 1, row=4,
    )  # fmt: skip
    preview_every: int = setting(
        10, "whole", "Preview every … iterations", "a preview every this many iterations (0: only the final picture)",
        low=0, high=100, step=1, row=0,
    )  # fmt: skip
    time_limit: float | None = setting(
        None, "number", "Time limit (seconds)",
        "seconds after which the job ends with the picture it has (none: no limit)",
        low=0.0, high=86_400.0, optional=True, row=4,
    )  # fmt: skip
    work_limit: float | None = setting(
        None, "number", "Work limit (megapixel-iterations)",
        "the largest job accepted: each scale's pixels times its iterations, summed, in millions (none: no limit)",
        low=0.0, high=1e9, optional=True,
    )  # fmt: skip
    max_memory: int | None = setting(
        None, "bytes", "Memory limit (bytes)",
        "the most memory the job may take; a scale that would need more is evaluated in tiles, with the same "
        "result (none: what the device has free)",
        low=2**26, high=2**50, optional=True,
    )  # fmt: skip
    content_layers: tuple[str, ...] = setting(
        CONTENT_LAYERS, "names", "Content layers", "the backbone layers whose features keep the photo's layout",
    )  # fmt: skip
    style_layers: tuple[str, ...] = setting(
        STYLE_LAYERS, "names", "Style layers", "the backbone layers whose statistics carry the painting's style",
    )  # fmt: skip
    style_layer_weights: tuple[float, ...] | None = setting(
        None, "numbers", "Style layer weights",
        f"relative weight of each style layer (none: each counts {STYLE_LAYER_FALL:g}× less than the one before)",
        optional=True,
    )  # fmt: skip

    output_depth: str = setting(
        "full", "choice", "Network at the output scale",
        "the deepest backbone layer at the output scale of a multi-scale job (relu3_1: an iteration there about "
        "2.5× quicker on a CPU, the brushwork weaker on some paintings; see styletransfer.output_scale)",
        choices=(("full", "The whole network"), ("relu3_1", "Up to relu3_1 (quicker)")), row=5,
    )  # fmt: skip

    mask_feather: float = setting(
        0.02, "number", "Soft edge between regions",
        "width of the soft edge where regions meet, as a share of the output's long side (0: hard edges)",
        low=0.0, high=0.25, step=0.005, row=5,
    )  # fmt: skip

    faces: str = setting(
        "auto", "choice", "Faces",
        "find the faces in the photo and keep their features: the photo's content counts more there "
        "(upright, roughly frontal faces; see styletransfer.faces; off: the whole photo alike)",
        choices=(("off", "Off"), ("auto", "Find them")), row=6,
    )  # fmt: skip
    face_strength: float = setting(
        5.0, "number", "Face strength", "how many times more the photo's content counts inside a face found",
        low=1.0, high=100.0, step=1.0, row=6,
    )  # fmt: skip

    temporal_weight: float = setting(
        100.0, "number", "Temporal weight (video)",
        "how firmly each video frame keeps to the previous one, warped by the optical flow, where the flow can be "
        "trusted (Ruder et al.; 0: every frame stylised on its own)",
        low=0.0, high=1e6,
    )  # fmt: skip
    video_iterations: int = setting(
        20, "whole", "Iterations per later frame (video)",
        "optimiser iterations for each video frame after the first, at the output size, starting from the previous "
        "frame warped (the first frame is a whole job)",
        low=1, high=100_000, step=1,
    )  # fmt: skip

    def __post_init__(self) -> None:
        for name, described in SETTINGS.items():
            object.__setattr__(self, name, described.check(getattr(self, name)))
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(self.style_layers):
            raise ValueError(
                f"style_layer_weights needs one weight per style layer ({len(self.style_layers)}); "
                f"got {len(self.style_layer_weights)}."
            )

    @property
    def layer_weights(self) -> dict[str, float]:
        """Each style layer's relative weight, as set or by default (see ``style_layer_weights``)."""
        count = len(self.style_layers)
        weights = self.style_layer_weights or tuple(STYLE_LAYER_FALL ** (count - 1 - i) for i in range(count))
        return dict(zip(self.style_layers, weights, strict=True))

    @property
    def network_layers(self) -> tuple[str, ...]:
        """Every backbone layer the losses read: the content layers, then the style layers."""
        return self.content_layers + self.style_layers

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


#: Every setting of :class:`StyleConfig`, described (see :mod:`styletransfer.settings`).
SETTINGS: dict[str, Setting] = settings_of(StyleConfig)
