"""Choosing the device and the numeric precision the network runs in."""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from typing import Literal

import torch

Precision = Literal["auto", "bf16", "fp32"]


def pick_device(requested: str | torch.device | None = None) -> torch.device:
    """Return ``requested``, or else CUDA, then Apple's MPS, then the CPU."""
    if requested not in (None, "auto"):
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("CUDA was requested but no CUDA GPU is available.")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError("MPS was requested but is not available on this machine.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_precision(device: torch.device, requested: Precision = "auto") -> Literal["bf16", "fp32"]:
    """Resolve ``"auto"``: bf16 where the hardware runs it natively, fp32 elsewhere.

    Gram matrices and losses are always computed in fp32; only the convolutions
    run in the chosen precision.
    """
    if requested not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be auto, bf16 or fp32; got {requested!r}.")
    if requested != "auto":
        return requested
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    return "fp32"


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 dot-product instructions (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            flags = cpuinfo.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def device_label(device: torch.device, precision: str) -> str:
    """A short human description such as ``"CPU, bf16"`` or ``"GPU (NVIDIA H100), bf16"``."""
    if device.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(device)}), {precision}"
    return f"{device.type.upper()}, {precision}"


def release_cached_memory(device: torch.device) -> None:
    """Hand memory a finished job freed back to the system, so that the process shrinks between jobs.

    On CUDA, PyTorch's caching allocator keeps freed blocks; on Linux, glibc keeps
    freed heap pages in per-thread arenas, and a server's worker threads leave
    hundreds of megabytes so. Elsewhere this does nothing.
    """
    if device.type == "cuda":
        torch.cuda.empty_cache()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim``, or ``None`` where the C library has none."""
    name = ctypes.util.find_library("c")
    library = ctypes.CDLL(name) if name else None
    return getattr(library, "malloc_trim", None)
