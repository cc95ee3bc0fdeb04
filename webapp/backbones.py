"""The backbones a user may pick: the default one, loaded at start-up, and the others, loaded on first use."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

import gradio as gr

from styletransfer import BackboneWeights, Stylizer, WeightsError

from .options import BACKBONES

#: Picks the default backbone's weights: ``auto`` (the Hub, else the bundled ones), ``hub``, ``bundled`` or a path.
WEIGHTS_ENV = "STYLETRANSFER_WEIGHTS"


def backbone_of(weights: BackboneWeights) -> str:
    """The :data:`~webapp.options.BACKBONES` key that ``weights`` are."""
    return "original" if weights.source == "bundled" else "torchvision"


class Backbones:
    """The loaded stylizers, one per backbone, all on the default one's device and precision."""

    def __init__(self, stylizer: Stylizer, *, torchvision_source: str = "hub") -> None:
        """``stylizer`` is the default backbone, already loaded; ``torchvision_source`` is where the other kind of
        weights comes from if a user picks it (``"hub"`` or a safetensors path)."""
        self.default = backbone_of(stylizer.weights)
        self.sources = {"original": "bundled", "torchvision": torchvision_source}
        self._stylizers = {self.default: stylizer}
        self._loading = threading.Lock()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ, *, device: str | None = None) -> Backbones:
        """Load the default backbone from :data:`WEIGHTS_ENV` (``auto`` when unset) on ``device`` (default: the
        fastest there is)."""
        source = environ.get(WEIGHTS_ENV, "auto").strip() or "auto"
        torchvision_source = source if source not in ("auto", "hub", "bundled") else "hub"
        return cls(Stylizer(source, device=device), torchvision_source=torchvision_source)

    @property
    def stylizer(self) -> Stylizer:
        """The default backbone, loaded at start-up."""
        return self._stylizers[self.default]

    def get(self, name: str) -> Stylizer:
        """The stylizer for backbone ``name``, loading its weights on first use; ``gr.Error`` when it cannot."""
        if name not in BACKBONES:
            raise gr.Error(f"Unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}.")
        with self._loading:
            if name not in self._stylizers:
                default = self.stylizer
                try:
                    self._stylizers[name] = Stylizer(
                        self.sources[name], device=default.device, precision=default.precision
                    )
                except WeightsError as error:
                    raise gr.Error(f"The {BACKBONES[name]} weights could not be loaded: {error}") from None
        return self._stylizers[name]
