"""Optical flow between a clip's frames, warping along it, and where it can be trusted.

The flow is OpenCV's DIS (Kroeger et al., ECCV 2016, "Fast optical flow using dense inverse search"), computed on
the input frames at the output size. ``python -m benchmarks.video --flows`` compares it with Farneback's on the
generated clips (README, "Video"): at 128 px DIS's warped input frames are 1.4 to 3.4 times closer to the next ones,
its check keeps more pixels (77–89 % against 60–84 %), and it takes about two thirds of Farneback's time.

:func:`reliable` is the check of Ruder, Dosovitskiy and Brox ("Artistic style transfer for videos", 2016, after
Sundaram et al. 2010): a pixel's flow is trusted where following it back and forth returns near the start (not an
occlusion) and where the flow is smooth (not a motion boundary).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

#: The flow methods :func:`optical_flow` knows.
FLOW_METHODS = ("dis", "farneback")


def optical_flow(source: Image.Image, target: Image.Image, method: str = "dis") -> np.ndarray:
    """The flow from ``source`` to ``target`` (pictures of one size): an (H, W, 2) float32 array whose entry at a
    pixel of ``source`` is the (x, y) displacement to where that point is in ``target``."""
    first = cv2.cvtColor(np.asarray(source.convert("RGB")), cv2.COLOR_RGB2GRAY)
    second = cv2.cvtColor(np.asarray(target.convert("RGB")), cv2.COLOR_RGB2GRAY)
    if method == "dis":
        return _dis().calc(first, second, None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(first, second, None, 0.5, 4, 15, 3, 5, 1.2, 0)
    raise ValueError(f"Unknown flow method {method!r}; expected one of {', '.join(FLOW_METHODS)}.")


def _dis() -> cv2.DISOpticalFlow:
    """DIS at OpenCV's medium preset, made for each call: an instance keeps buffers of the last size and is not
    safe to share between threads."""
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def warp(picture: Tensor, flow: np.ndarray) -> Tensor:
    """``picture`` (N, C, H, W) moved along ``flow`` (H, W, 2): each output pixel x takes the picture at
    x + flow(x), interpolated bilinearly (pixels whose flow leaves the picture take its nearest edge)."""
    height, width = flow.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    x = (xs + flow[..., 0]) * 2 / max(1, width - 1) - 1
    y = (ys + flow[..., 1]) * 2 / max(1, height - 1) - 1
    grid = torch.from_numpy(np.stack([x, y], axis=-1)).unsqueeze(0).to(picture.device, picture.dtype)
    grid = grid.expand(picture.shape[0], -1, -1, -1)
    return F.grid_sample(picture, grid, mode="bilinear", padding_mode="border", align_corners=True)


def reliable(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Where the flow ``backward`` (from this frame to the previous one) can be trusted, as an (H, W) float32 map
    of 0 and 1, given ``forward`` (from the previous frame to this one).

    A pixel x is left out (0) when following ``backward`` and then ``forward`` does not come back near x, as at
    occlusions (|w + w̃|² > 0.01 (|w|² + |w̃|²) + 0.5, with w = backward(x) and w̃ = forward(x + w)), at a motion
    boundary (|∇u|² + |∇v|² > 0.01 |w|² + 0.002), or where x + w lies outside the previous frame."""
    height, width = backward.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    map_x, map_y = xs + backward[..., 0], ys + backward[..., 1]
    returned = cv2.remap(forward, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    round_trip = np.sum((backward + returned) ** 2, axis=-1)
    lengths = np.sum(backward**2, axis=-1) + np.sum(returned**2, axis=-1)
    occluded = round_trip > 0.01 * lengths + 0.5
    gradient = sum(np.gradient(backward[..., c], axis=a) ** 2 for c in (0, 1) for a in (0, 1))
    boundary = gradient > 0.01 * np.sum(backward**2, axis=-1) + 0.002
    outside = (map_x < 0) | (map_x > width - 1) | (map_y < 0) | (map_y > height - 1)
    return (~(occluded | boundary | outside)).astype(np.float32)


def frame_flows(frames: Sequence[Image.Image], method: str = "dis") -> list[tuple[np.ndarray, np.ndarray]]:
    """For each frame after the first, the flow back to the frame before it and where that flow is
    :func:`reliable`: what the temporal loss and the warping error use."""
    flows = []
    for previous, frame in pairwise(frames):
        backward = optical_flow(frame, previous, method)
        flows.append((backward, reliable(backward, optical_flow(previous, frame, method))))
    return flows


def warping_error(frames: Sequence[Image.Image], flows: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """The temporal warping error of a clip (Lai et al., ECCV 2018): over each pair of neighbouring frames, the
    mean over the pixels the check keeps of the squared difference (summed over RGB in [0, 1]) between a frame
    and the one before it warped along ``flows`` (those of :func:`frame_flows`, from the *input* clip); the mean
    over the pairs. The input clip's own error is the floor a stylised clip can reach."""
    errors = []
    for (previous, frame), (backward, kept) in zip(pairwise(frames), flows, strict=True):
        before = torch.from_numpy(np.asarray(previous.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)
        now = np.asarray(frame.convert("RGB"), dtype=np.float32) / 255
        warped = warp(before.unsqueeze(0), backward)[0].permute(1, 2, 0).numpy()
        squared = np.sum((now - warped) ** 2, axis=-1)
        errors.append(float(np.sum(squared * kept) / max(1.0, float(np.sum(kept)))))
    return float(np.mean(errors)) if errors else 0.0
