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


#: The first CUDA compute capability whose tensor cores compute bf16 (Ampere, 8.0). Older GPUs (the T4's 7.5, the
#: V100's 7.0) only emulate it, slowly.
CUDA_NATIVE_BF16 = (8, 0)


def pick_precision(device: torch.device, requested: Precision = "auto") -> Literal["bf16", "fp32"]:
    """Resolve ``"auto"``: bf16 where the hardware of ``device`` computes it natively, fp32 elsewhere.

    Native means a CUDA GPU of compute capability 8.0 or more (asked of ``device`` itself, not the current
    device; ``torch.cuda.is_bf16_supported`` also says yes where bf16 is only emulated), or a CPU with
    AVX512-BF16 or AMX. Everywhere else (older GPUs, Apple's MPS, CPUs with AVX2 only) the network runs in fp32.
    fp16 is never chosen: its tensor cores would be fast on a T4 or V100, but its narrow range can overflow the
    activations or underflow the gradients without loss scaling, which this engine does not do, and no fp16
    picture has been checked. Gram matrices and losses are always computed in fp32; only the convolutions run in
    the chosen precision.
    """
    if requested not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be auto, bf16 or fp32; got {requested!r}.")
    if requested != "auto":
        return requested
    if device.type == "cuda":
        return "bf16" if cuda_has_native_bf16(device) else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    return "fp32"


def cuda_has_native_bf16(device: torch.device) -> bool:
    """Whether the CUDA GPU ``device`` has bf16 tensor cores (compute capability :data:`CUDA_NATIVE_BF16` or more)."""
    return tuple(torch.cuda.get_device_capability(device)) >= CUDA_NATIVE_BF16


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
    trim = getattr(_c_library(), "malloc_trim", None)
    if trim is not None:
        trim(0)


#: glibc's ``mallopt`` parameter for the most heap arenas the process may have (``M_ARENA_MAX``).
_M_ARENA_MAX = -8


def limit_heap_arenas(count: int) -> bool:
    """Let threads created from now on share at most ``count`` glibc heap arenas; whether the C library took it.

    glibc gives each new thread that allocates its own arena, up to eight per core, and each keeps the memory freed
    in it. In a web server, whose worker threads come and go, the process then grows with every new thread's
    arenas: the 30-minute soak's server rose up to 14 % above its fifth minute's level, and with two arenas up to
    7.4 % (see ``python -m benchmarks.soak``). Elsewhere than on glibc this does nothing.
    """
    mallopt = getattr(_c_library(), "mallopt", None)
    return bool(mallopt is not None and mallopt(_M_ARENA_MAX, count))


@lru_cache(maxsize=1)
def _c_library() -> ctypes.CDLL | None:
    """The C library, or ``None`` where there is none to find."""
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None
