"""The floating-point work of one evaluation, counted from VGG19's layer shapes.

One evaluation is a forward pass to the deepest layer used and a backward pass to the picture. Per convolution
(3×3, stride 1, padded, on a map of W×H cells):

* forward: 2·C_in·C_out·9·W·H (a multiply and an add per weight and output cell);
* backward: the same again for the gradient with respect to its input. The weights are frozen, so no gradient
  with respect to them is computed (that would be a third as much).

Each style layer's Gram matrix F·Fᵀ (F of C channels by W·H cells) adds 2·C²·W·H forward and as much backward
(the gradient is (∂L/∂G + ∂L/∂Gᵀ)·F). ReLUs, poolings, losses and the optimiser's own work are left out (under
1 % at these sizes). Each max-pooling halves the map, rounding down. At 512×512 the paper's layers (relu1_1 …
relu5_1) come to 0.379 TFLOP of convolutions and 0.018 of Gram matrices: 0.397 TFLOP an evaluation.
"""

from __future__ import annotations

from styletransfer.features import VGG19_CONVS

#: The paper's style layers, whose Gram matrices every measured run computes; relu5_1 is the deepest layer.
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEEPEST = "relu5_1"


def map_size(size: tuple[int, int], block: int) -> tuple[int, int]:
    """The (width, height) of the maps in VGG19's ``block`` (1–5) for a picture of ``size``: halved, rounding down,
    by each pooling before it."""
    width, height = size
    return width >> (block - 1), height >> (block - 1)


def conv_flop(channels_in: int, channels_out: int, size: tuple[int, int]) -> int:
    """The forward FLOP of a 3×3 convolution on a map of ``size`` (width, height)."""
    width, height = size
    return 2 * channels_in * channels_out * 9 * width * height


def gram_flop(channels: int, size: tuple[int, int]) -> int:
    """The forward FLOP of the Gram matrix of ``channels`` maps of ``size``."""
    width, height = size
    return 2 * channels * channels * width * height


def evaluation_flop(size: tuple[int, int], deepest: str = DEEPEST, style_layers: tuple[str, ...] = STYLE_LAYERS) -> int:
    """The FLOP of one evaluation at ``size`` (width, height), forward to ``deepest`` and back (see the module)."""
    total = 0
    for name, _, channels_in, channels_out in VGG19_CONVS:
        block = int(name[4])
        maps = map_size(size, block)
        total += 2 * conv_flop(channels_in, channels_out, maps)
        relu = name.replace("conv", "relu")
        if relu in style_layers:
            total += 2 * gram_flop(channels_out, maps)
        if relu == deepest:
            return total
    raise ValueError(f"{deepest} is not a layer of VGG19.")
