"""Our objective as a score of finished pictures: the headline's criterion (see :mod:`benchmarks.compare`)."""

from __future__ import annotations

import torch
from PIL import Image

from styletransfer import StyleConfig, Stylizer, images


class ObjectiveMeter:
    """The objective that a job with ``config`` minimises at its output size, computed in fp32 for any picture of
    that size: what the job's own loss says of the picture a user gets (8 bits a channel, clamped)."""

    def __init__(self, fp32: Stylizer, content: Image.Image, style: Image.Image, config: StyleConfig) -> None:
        if fp32.precision != "fp32":
            raise ValueError(f"The objective is measured in fp32, not {fp32.precision}.")
        self.evaluate, photo = fp32.output_objective(content, style, config)
        self.size = (photo.shape[-1], photo.shape[-2])
        self.device = photo.device

    @torch.no_grad()
    def __call__(self, picture: Image.Image) -> float:
        """The objective's total at ``picture``, which must have the output's size."""
        if picture.size != self.size:
            raise ValueError(f"The objective is set up for {self.size}, not {picture.size}.")
        tensor = images.to_tensor(picture.convert("RGB"), self.device)
        return float(self.evaluate.objective(self.evaluate.net(tensor), tensor)["total"])
