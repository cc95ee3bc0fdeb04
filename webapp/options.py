"""The page's options: which settings it shows, their defaults and bounds on this hardware, and how they map to a
:class:`StyleConfig`.

The options are the config's own settings (:data:`styletransfer.SETTINGS`, those
with a row in the Advanced panel) and a few of the page's (:data:`PAGE_EXTRAS`);
the widgets (:mod:`webapp.panel`) and so the API's parameters are made from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from styletransfer import SETTINGS, Setting, StyleConfig

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

    def highest(self, setting: str) -> float | None:
        """The most ``setting`` may be on this hardware, where these bounds narrow its range; else ``None``."""
        limits = {
            "size": self.max_size,
            "min_size": self.max_size,
            "iterations": self.max_iterations,
            "coarse_iterations": self.max_iterations,
            "time_limit": self.max_seconds,
        }
        return limits.get(setting)


#: On two CPU cores a megapixel-iteration takes about 3 s: 40 is a 512 px default job twice over, a few minutes.
CPU_BOUNDS = Bounds(max_size=1024, max_iterations=1000, max_work=40.0, max_seconds=300.0)
#: On a GPU: up to 8192 px, within the time a ZeroGPU Space lends a GPU for one job (see ``zerogpu.GPU_SECONDS``).
#: Memory no longer bounds the size: a scale that would not fit is evaluated in tiles (``styletransfer.tiling``).
#: At 8192×6144 what stays for the whole scale (the picture, its targets, the shortest optimiser history) is
#: estimated at 12.5 GB; where the device has less, the plan refuses the job with a clear message. An 8192 px
#: default job is about 690 megapixel-iterations (about 1 PFLOP): time decides.
GPU_BOUNDS = Bounds(max_size=8192, max_iterations=5000, max_work=2500.0, max_seconds=110.0)

#: The backbones a user may pick, with their labels.
BACKBONES = {
    "original": "VGG19 original (Caffe, as in the paper)",
    "torchvision": "VGG19 torchvision (ImageNet retrain, from the Hub)",
}

#: The settings of the config that the page shows (those with a row in the Advanced panel).
PAGE_CONFIG: dict[str, Setting] = {name: described for name, described in SETTINGS.items() if described.row is not None}
#: The page's own settings, besides the config's: ``multiscale`` switches ``scales`` on and off, ``blend`` is the
#: second style image's share (shown beside it), and ``backbone`` picks the weights (not part of the config).
PAGE_EXTRAS: dict[str, Setting] = {
    "multiscale": Setting(
        "switch", "Multi-scale (coarse to fine)", "off: one scale at the output size", row=1, name="multiscale"
    ),
    "blend": Setting(
        "number",
        "Share of the second style",
        "0: only the first style; 1: only the second",
        low=0.0,
        high=1.0,
        step=0.05,
        name="blend",
        default=0.5,
    ),
    "backbone": Setting(
        "choice",
        "Backbone",
        "the network that describes the pictures",
        choices=tuple(BACKBONES.items()),
        row=4,
        name="backbone",
    ),
}
#: Every option of the page, by name: the names of its API parameters.
OPTION_NAMES = (*PAGE_CONFIG, *PAGE_EXTRAS)
#: What a time limit of 0 stands for on the page: no limit of the user's own, so the server's longest.
NO_TIME_LIMIT = 0


def defaults_for(device: torch.device) -> StyleConfig:
    """The default settings on ``device``: :data:`CPU_DEFAULTS` on a CPU, :data:`GPU_DEFAULTS` elsewhere."""
    return CPU_DEFAULTS if device.type == "cpu" else GPU_DEFAULTS


def bounds_for(device: torch.device) -> Bounds:
    """The bounds of one job on ``device``: :data:`CPU_BOUNDS` on a CPU, :data:`GPU_BOUNDS` elsewhere."""
    return CPU_BOUNDS if device.type == "cpu" else GPU_BOUNDS


def options_from_config(config: StyleConfig, backbone: str) -> dict[str, Any]:
    """The option values that show ``config`` (with one style image) on the page."""
    options = {name: getattr(config, name) for name in PAGE_CONFIG}
    options.update(
        time_limit=config.time_limit or NO_TIME_LIMIT,
        multiscale=config.scales > 1,
        blend=PAGE_EXTRAS["blend"].default,
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
    settings = {name: _whole(described, options[name]) for name, described in PAGE_CONFIG.items()}
    for name, value in settings.items():
        most = bounds.highest(name)
        if most is not None and _is_number(value) and value > most:
            raise ValueError(f"{name} may be at most {most:g} on this server; got {value!r}.")
    if not PAGE_EXTRAS["multiscale"].check(options["multiscale"]):
        settings["scales"] = 1
    settings["time_limit"] = settings["time_limit"] or bounds.max_seconds
    settings["work_limit"] = bounds.max_work
    if second_style:
        blend = PAGE_EXTRAS["blend"].check(options["blend"])
        settings["style_weights"] = (1.0 - blend, float(blend))
    return StyleConfig(**settings)


def _whole(described: Setting, value: Any) -> Any:
    """Sliders and number boxes send floats; whole-number settings take them when they are whole."""
    if described.kind == "whole" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
