"""The style losses and their per-layer weighting, on small tensors."""

from __future__ import annotations

import pytest
import torch

from styletransfer.losses import (
    Objective,
    StyleLoss,
    mean_and_covariance,
    moments,
    position_shares,
    style_statistics,
)

LAYERS = ("relu1_1", "relu2_1")


def features(seed: int, channels: int = 8, shift: float = 0.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, channels, 12, 10, generator=generator) * (1 + seed) + shift


@pytest.mark.parametrize("kind", ["gram", "wasserstein"])
def test_a_style_loss_is_zero_on_its_own_target_and_positive_elsewhere(kind):
    target = features(0)
    loss = StyleLoss(style_statistics(target, kind), kind)
    assert loss(target).item() == pytest.approx(0, abs=1e-4)
    assert loss(features(1)).item() > 0.01


@pytest.mark.parametrize("kind", ["gram", "wasserstein"])
def test_a_style_loss_is_the_same_whatever_the_activations_scale(kind):
    target, image = features(0), features(1)
    plain = StyleLoss(style_statistics(target, kind), kind)(image)
    scaled = StyleLoss(style_statistics(100 * target, kind), kind)(100 * image)
    assert scaled.item() == pytest.approx(plain.item(), rel=1e-3)


def test_wasserstein_sees_a_shifted_mean_that_keeps_the_spread():
    target = features(0)
    shifted = target + 0.5  # same covariance, different mean
    loss = StyleLoss(style_statistics(target, "wasserstein"), "wasserstein")
    mean, covariance = mean_and_covariance(target)
    shifted_mean, shifted_covariance = mean_and_covariance(shifted)
    assert torch.allclose(covariance, shifted_covariance, atol=1e-5)
    expected = (shifted_mean - mean).pow(2).sum() / (mean.pow(2).sum() + covariance.diagonal(dim1=-2, dim2=-1).sum())
    assert loss(shifted).item() == pytest.approx(expected.item(), rel=1e-2)


def test_wasserstein_gradient_moves_the_features_toward_the_style():
    target = features(0)
    loss = StyleLoss(style_statistics(target, "wasserstein"), "wasserstein")
    image = features(3).requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=0.05)
    start = loss(image).item()
    for _ in range(60):
        optimizer.zero_grad()
        value = loss(image)
        value.backward()
        assert torch.isfinite(image.grad).all()
        optimizer.step()
    assert loss(image).item() < start / 4


def test_style_layer_weights_choose_how_much_each_layer_counts():
    style = {name: style_statistics(features(i), "gram") for i, name in enumerate(LAYERS)}
    content = {"relu4_2": features(5)}
    image = {"relu1_1": features(2), "relu2_1": features(3), "relu4_2": features(5)}
    picture = torch.zeros(1, 3, 8, 8)
    per_layer = {name: StyleLoss(style[name])(image[name]).item() for name in LAYERS}

    def style_term(weights):
        objective = Objective(content, style, 1.0, 1.0, 0.0, style_layer_weights=weights)
        return objective(image, picture)["style"].item()

    assert style_term(None) == pytest.approx(sum(per_layer.values()) / 2, rel=1e-5)
    assert style_term({"relu1_1": 1.0, "relu2_1": 0.0}) == pytest.approx(per_layer["relu1_1"], rel=1e-5)
    assert style_term({"relu1_1": 3.0, "relu2_1": 1.0}) == pytest.approx(
        0.75 * per_layer["relu1_1"] + 0.25 * per_layer["relu2_1"], rel=1e-5
    )


@pytest.mark.parametrize("kind", ["gram", "wasserstein"])
@pytest.mark.parametrize("region", [False, True])
def test_the_second_moments_gradient_is_autograds_of_the_plain_product(kind, region):
    # The second moment's own backward (one product of the weighed features with the symmetrised gradient)
    # against autograd through the plain sum of s·f·fᵀ, for an incoming gradient that is not symmetric, for the
    # whole picture and for a region's weighted positions, with the mean's gradient added for Wasserstein.
    generator = torch.Generator().manual_seed(3)
    maps = torch.randn(2, 5, 3, 4, generator=generator)  # (N, C, H, W)
    weights = torch.rand(2, 1, 3, 4, generator=generator) if region else None
    shares = position_shares(weights, (3, 4))
    incoming = torch.randn(2, 5, 5, generator=generator)
    incoming_mean = torch.randn(2, 5, generator=generator)
    gradients = []
    for ours in (True, False):
        features = maps.clone().requires_grad_(True)
        if ours:
            parts = moments(features, shares, kind)
        else:
            share_map = torch.as_tensor(shares).expand(2, 1, 3, 4)
            second = torch.einsum("nchw,ndhw->ncd", features * share_map, features)
            parts = (second,) if kind == "gram" else ((features * share_map).sum(dim=(2, 3)), second)
        loss = (parts[-1] * incoming).sum() + (0 if kind == "gram" else (parts[0] * incoming_mean).sum())
        loss.backward()
        gradients.append(features.grad)
    assert torch.allclose(gradients[0], gradients[1], rtol=1e-5, atol=1e-6)


def test_bf16_features_get_fp32_second_moments_and_a_bf16_gradient_within_its_rounding():
    # bf16 features (a bf16 network's): the second moment is summed in fp32, as for fp32 features of the same
    # values; its gradient comes back in bf16, the features' precision, within bf16's rounding of the fp32 one.
    generator = torch.Generator().manual_seed(5)
    maps = torch.randn(1, 8, 16, 16, generator=generator).to(torch.bfloat16)
    incoming = torch.randn(1, 8, 8, generator=generator)
    results = {}
    for dtype in (torch.bfloat16, torch.float32):
        features = maps.to(dtype, copy=True).requires_grad_(True)
        (second,) = moments(features, position_shares(None, (16, 16)), "gram")
        (second * incoming).sum().backward()
        results[dtype] = (second, features.grad)
    (second_bf16, grad_bf16), (second_fp32, grad_fp32) = results[torch.bfloat16], results[torch.float32]
    assert second_bf16.dtype == torch.float32 and torch.allclose(second_bf16, second_fp32, rtol=1e-5, atol=1e-6)
    assert grad_bf16.dtype == torch.bfloat16
    assert torch.allclose(grad_bf16.float(), grad_fp32, rtol=2e-2, atol=2e-2 * float(grad_fp32.abs().max()))
