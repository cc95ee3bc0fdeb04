"""Every CUDA-only call the benchmarks make, in this one module, so that a test can stand in for a GPU on a CPU.

The benchmarks ask :func:`is_cuda` rather than ``device.type``, and reach the GPU only through these functions.
"""

from __future__ import annotations

import torch


def available() -> bool:
    """Whether a CUDA GPU is there."""
    return torch.cuda.is_available()


def device() -> torch.device:
    """The CUDA device the benchmarks run on (the current one)."""
    return torch.device("cuda")


def is_cuda(device: torch.device) -> bool:
    """Whether ``device`` is a CUDA GPU, whose work is queued (clocks must wait for it) and whose memory has its
    own allocator."""
    return device.type == "cuda"


def name(device: torch.device) -> str:
    """The GPU's name, such as ``NVIDIA H100 80GB HBM3``."""
    return torch.cuda.get_device_name(device)


def synchronize(device: torch.device) -> None:
    """Wait until the GPU has finished the work queued so far."""
    torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    """Start counting the allocator's peak afresh."""
    torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: torch.device) -> int:
    """The most the allocator has held for tensors since :func:`reset_peak_memory`."""
    return torch.cuda.max_memory_allocated(device)


def memory_bytes(device: torch.device) -> int:
    """What the allocator holds for tensors now."""
    return torch.cuda.memory_allocated(device)


def set_tf32(enabled: bool) -> None:
    """Let fp32 convolutions and matrix products (the Gram matrices) run on TF32 tensor cores, or not (IEEE fp32).
    PyTorch's default runs convolutions in TF32 and matrix products in fp32."""
    precision = "tf32" if enabled else "ieee"
    torch.backends.cudnn.conv.fp32_precision = precision
    torch.backends.cuda.matmul.fp32_precision = precision


def tf32_enabled() -> bool:
    """Whether fp32 convolutions run in TF32 (see :func:`set_tf32`)."""
    return torch.backends.cudnn.conv.fp32_precision == "tf32"
