"""The output scale's shallower network: what each scale of a job runs with.

The output scale costs most of a job (it has the most pixels), and most of an
evaluation there is spent in the deep layers. With the default style layer
weights (256:64:16:4:1), relu1_1 … relu3_1 carry 98.5 % of the style weight, and
relu4_1 and relu5_1, which set the colour layout, are settled by the coarser
scales. So at the output scale of a multi-scale job, ``output_depth="relu3_1"``
stops the network at relu3_1: the style layers up to it keep their weights, and
the content term moves from relu4_2 to relu3_1, at :data:`CONTENT_SHARE` of its
weight (relu3_1 holds the photo's fine texture too, so at the full weight it
pulls the brushwork back towards the photo). One evaluation there costs about
0.4 of the whole network's on an AVX2 CPU (fp32).

Measured on the quality suite (``benchmarks/README.md``, "Levers, one at a
time"): quicker, but the texture distance rose on some pairs, so it is an
option, not the default.
"""

from __future__ import annotations

from .config import StyleConfig
from .features import layer_order

#: The content weight at a cut output scale, as a share of the job's: measured at 1 (texture distance up to 3.6×
#: the whole network's on the suite's pairs) and 0.3 (texture 0.75–1.7×, structure within 0.03).
CONTENT_SHARE = 0.3


def scale_config(config: StyleConfig, scale: int, scales: int) -> StyleConfig:
    """The settings that scale ``scale`` (0: the coarsest) of a job of ``scales`` scales runs with: ``config``
    itself, except at the output scale of a multi-scale job whose ``output_depth`` cuts the network there (see the
    module's docstring). A cut that would leave no style layer changes nothing."""
    if config.output_depth == "full" or scales == 1 or scale < scales - 1:
        return config
    deepest = layer_order(config.output_depth)
    kept = [name for name in config.style_layers if layer_order(name) <= deepest]
    if not kept:
        return config
    weights = config.layer_weights
    return config.updated(
        content_layers=(config.output_depth,),
        content_weight=config.content_weight * CONTENT_SHARE,
        style_layers=tuple(kept),
        style_layer_weights=tuple(weights[name] for name in kept),
        output_depth="full",
    )


def is_shallow(config: StyleConfig, scale: int, scales: int) -> bool:
    """Whether scale ``scale`` of a job of ``scales`` scales runs the shallower network (see :func:`scale_config`)."""
    return scale_config(config, scale, scales) is not config
