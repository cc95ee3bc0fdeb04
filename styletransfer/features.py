"""The VGG19 feature extractor, cut after the deepest layer in use.

Layers are named as in the paper: ``conv{block}_{i}``, ``relu{block}_{i}`` and
``pool{block}``. Indices in ``torchvision.models.vgg19().features`` follow the
same order, which is how the weight files name their tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Convolutions per block of VGG19 and their output channels.
VGG19_BLOCKS: tuple[tuple[int, int], ...] = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))


def _conv_layout() -> list[tuple[str, int, int, int]]:
    """(name, index in torchvision's ``features``, in channels, out channels) of each conv."""
    layout, index, channels = [], 0, 3
    for block, (count, width) in enumerate(VGG19_BLOCKS, start=1):
        for i in range(1, count + 1):
            layout.append((f"conv{block}_{i}", index, channels, width))
            channels = width
            index += 2  # conv, relu
        index += 1  # pool
    return layout


#: Every VGG19 conv: (name, torchvision index, in channels, out channels).
VGG19_CONVS = _conv_layout()
#: The expected shape of every weight tensor, keyed by its torchvision name.
VGG19_SHAPES: dict[str, tuple[int, ...]] = {
    key: shape
    for _, index, cin, cout in VGG19_CONVS
    for key, shape in ((f"features.{index}.weight", (cout, cin, 3, 3)), (f"features.{index}.bias", (cout,)))
}


@dataclass(frozen=True)
class Normalization:
    """How a backbone wants its input: ``(rgb_or_bgr * scale - mean) / std``."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    scale: float = 1.0
    bgr: bool = False


IMAGENET_NORMALIZATION = Normalization(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
CAFFE_NORMALIZATION = Normalization(mean=(103.939, 116.779, 123.68), scale=255.0, bgr=True)


class VGG19Features(nn.Module):
    """A frozen VGG19 trunk that returns the activations of the requested layers.

    The input is an RGB image in [0, 1]; the backbone's own normalisation is
    applied inside, in the input's precision, and the convolutions then run in
    ``dtype``: their weights are stored in it once, so that a bf16 network casts
    no weights while it runs (autocast would cast them afresh at every call,
    26 MB for a trunk to relu5_1, about half of a small job's working memory).
    Only the layers up to the deepest requested one are built.
    """

    def __init__(
        self,
        state: dict[str, Tensor],
        normalization: Normalization,
        layers: list[str],
        pooling: str = "max",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.layers = list(layers)
        self.pooling = pooling
        deepest = max(layer_order(name) for name in layers)
        self.convs = nn.ModuleList()
        self.names: list[str] = []
        for name, index, cin, cout in VGG19_CONVS:
            if layer_order(name) > deepest:
                break
            conv = nn.Conv2d(cin, cout, 3, padding=1)
            conv.weight.data.copy_(state[f"features.{index}.weight"])
            conv.bias.data.copy_(state[f"features.{index}.bias"])
            self.convs.append(conv)
            self.names.append(name)
        order = [2, 1, 0] if normalization.bgr else [0, 1, 2]
        self.register_buffer("channel_order", torch.tensor(order), persistent=False)
        self.register_buffer("mean", torch.tensor(normalization.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(normalization.std).view(1, 3, 1, 1), persistent=False)
        self.input_scale = normalization.scale
        self.convs.to(dtype)
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        x = (image[:, self.channel_order] * self.input_scale - self.mean) / self.std
        x = x.to(self.convs[0].weight.dtype)
        # channels_last runs the convolutions faster on CPUs (oneDNN) and on tensor-core GPUs.
        x = x.contiguous(memory_format=torch.channels_last)
        wanted = set(self.layers)
        out: dict[str, Tensor] = {}
        for name, conv in zip(self.names, self.convs, strict=True):
            block, i = name[4:].split("_")
            if i == "1" and block != "1":
                x = F.max_pool2d(x, 2) if self.pooling == "max" else F.avg_pool2d(x, 2)
            x = conv(x)
            if f"conv{block}_{i}" in wanted:
                out[name] = x
                x = F.relu(x)
            else:
                # No one keeps the conv output, so the ReLU may overwrite it.
                x = F.relu_(x)
            if f"relu{block}_{i}" in wanted:
                out[f"relu{block}_{i}"] = x
        return out


def layer_order(name: str) -> int:
    """Position of a layer name among VGG19's convs (relu and conv of one pair share it)."""
    kind_free = name.replace("relu", "conv")
    for position, (conv_name, *_rest) in enumerate(VGG19_CONVS):
        if conv_name == kind_free:
            return position
    raise ValueError(f"Unknown VGG19 layer {name!r}; use names such as 'relu4_2' or 'conv1_1'.")


def multiply_adds_per_pixel(layers: list[str] | tuple[str, ...]) -> float:
    """The convolutions' multiply-adds per input pixel of one forward pass of the network cut after the deepest of
    ``layers``: each conv's 3·3·in·out at its map's size (a quarter more pooled away with each block)."""
    deepest = max(layer_order(name) for name in layers)
    return sum(9 * cin * cout / layer_stride(name) ** 2 for name, _, cin, cout in VGG19_CONVS[: deepest + 1])


def layer_stride(name: str) -> int:
    """How many input pixels one cell of ``name`` steps over: 2 for every pooling before it."""
    return 2 ** (int(name.replace("relu", "conv")[4]) - 1)


def layer_reach(name: str) -> int:
    """How far, in input pixels, a cell's receptive field at ``name`` reaches past the cell's own footprint
    (its ``layer_stride`` × ``layer_stride`` pixels) on each side: each 3×3 convolution adds one cell of its own
    stride, poolings add nothing (relu5_1: 70)."""
    position = layer_order(name)
    return sum(layer_stride(conv_name) for conv_name, *_rest in VGG19_CONVS[: position + 1])


def layer_size(size: tuple[int, int], name: str) -> tuple[int, int]:
    """The (height, width) of ``name``'s map for an input of (height, width) ``size``: each pooling halves it,
    rounding down."""
    stride = layer_stride(name)
    return size[0] // stride, size[1] // stride
