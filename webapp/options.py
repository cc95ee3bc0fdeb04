"""The page's options: their defaults on this hardware, and how they map to a :class:`StyleConfig`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from styletransfer import StyleConfig

#: On a CPU: the engine's defaults at a smaller size, so that a picture takes about a minute on two cores;
#: an iteration takes a good fraction of a second, so previews come more often.
CPU_DEFAULTS = StyleConfig(size=384, preview_every=5)
#: On a GPU: the engine's own defaults (512 px, three scales); iterations are quick, so previews are sparser.
GPU_DEFAULTS = StyleConfig(preview_every=20)


@dataclass(frozen=True)
class Bounds:
    """The most one job may ask for on this hardware. The server refuses anything beyond, whatever the page allows."""

    max_size: int
    """Longest output side, in pixels."""
    max_iterations: int
    """Iterations at any one scale."""
    max_work: float
    """Megapixel-iterations in all (see :attr:`StyleConfig.work_limit`): about a job's compute."""
    max_seconds: float
    """Wall time; a job then ends with the picture it has. Also the limit when the user sets none."""


#: On two CPU cores a megapixel-iteration takes about 3 s: 40 is a 512 px default job twice over, a few minutes.
CPU_BOUNDS = Bounds(max_size=1024, max_iterations=1000, max_work=40.0, max_seconds=300.0)
#: On a GPU: up to 4096 px, within the time a ZeroGPU Space lends a GPU for one job (see ``layout.GPU_SECONDS``).
GPU_BOUNDS = Bounds(max_size=4096, max_iterations=5000, max_work=2500.0, max_seconds=110.0)

#: The backbones a user may pick, with their labels.
BACKBONES = {
    "original": "VGG19 original (Caffe, as in the paper)",
    "torchvision": "VGG19 torchvision (ImageNet retrain, from the Hub)",
}

#: Options whose value goes unchanged to the :class:`StyleConfig` field of the same name.
CONFIG_OPTIONS = (
    "size",
    "iterations",
    "coarse_iterations",
    "min_size",
    "style_strength",
    "content_weight",
    "tv_weight",
    "style_scale",
    "optimizer",
    "learning_rate",
    "preserve_color",
    "init",
    "pooling",
    "seed",
    "preview_every",
)
#: Options on top of those: ``scales`` with its on/off switch, the time limit (0 for none), the two-style blend
#: and the backbone.
EXTRA_OPTIONS = ("multiscale", "scales", "time_limit", "blend", "backbone")
OPTION_NAMES = CONFIG_OPTIONS + EXTRA_OPTIONS

_WHOLE_NUMBERS = {"size", "iterations", "coarse_iterations", "scales", "min_size", "seed", "preview_every"}


def defaults_for(device: torch.device) -> StyleConfig:
    """The default settings on ``device``: :data:`CPU_DEFAULTS` on a CPU, :data:`GPU_DEFAULTS` elsewhere."""
    return CPU_DEFAULTS if device.type == "cpu" else GPU_DEFAULTS


def bounds_for(device: torch.device) -> Bounds:
    """The bounds of one job on ``device``: :data:`CPU_BOUNDS` on a CPU, :data:`GPU_BOUNDS` elsewhere."""
    return CPU_BOUNDS if device.type == "cpu" else GPU_BOUNDS


def options_from_config(config: StyleConfig, backbone: str) -> dict[str, Any]:
    """The option values that show ``config`` (with one style image) on the page."""
    options = {name: getattr(config, name) for name in CONFIG_OPTIONS}
    options.update(
        multiscale=config.scales > 1,
        scales=max(config.scales, 2),
        time_limit=config.time_limit or 0,
        blend=0.5,
        backbone=backbone,
    )
    return options


def build_config(options: Mapping[str, Any], *, second_style: bool, bounds: Bounds) -> StyleConfig:
    """The :class:`StyleConfig` that the page's option values stand for, within ``bounds``.

    ``options`` holds a value for every name in :data:`OPTION_NAMES` (``backbone``
    is not part of the config and is ignored here). ``multiscale`` off means one
    scale; a ``time_limit`` of 0 means the longest ``bounds`` allow; ``blend`` is
    the second style image's share, used only when there is one. The job's work
    limit is ``bounds.max_work``, which the engine checks once it knows the
    picture's size.
    Raises ``ValueError`` with a readable message for values out of range.
    """
    settings = {name: _whole(name, options[name]) for name in CONFIG_OPTIONS}
    for name, value, most in [
        ("size", settings["size"], bounds.max_size),
        ("iterations", settings["iterations"], bounds.max_iterations),
        ("coarse_iterations", settings["coarse_iterations"], bounds.max_iterations),
        ("time_limit", options["time_limit"], bounds.max_seconds),
    ]:
        if isinstance(value, (int, float)) and value > most:
            raise ValueError(f"{name} may be at most {most:g} on this server; got {value!r}.")
    if not isinstance(options["multiscale"], bool):
        raise ValueError(f"multiscale must be true or false; got {options['multiscale']!r}.")
    settings["scales"] = _whole("scales", options["scales"]) if options["multiscale"] else 1
    settings["time_limit"] = options["time_limit"] or bounds.max_seconds
    settings["work_limit"] = bounds.max_work
    if second_style:
        blend = options["blend"]
        if isinstance(blend, bool) or not isinstance(blend, (int, float)) or not 0 <= blend <= 1:
            raise ValueError(f"blend must be a number from 0 to 1; got {blend!r}.")
        settings["style_weights"] = (1.0 - blend, float(blend))
    return StyleConfig(**settings)


def _whole(name: str, value: Any) -> Any:
    """Sliders and number boxes send floats; whole-number options take them when they are whole."""
    if name in _WHOLE_NUMBERS and isinstance(value, float) and value.is_integer():
        return int(value)
    return value
