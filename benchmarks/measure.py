"""Clocks, peak memory and arithmetic throughput, the same for the reference and our engine."""

from __future__ import annotations

import re
import time
from pathlib import Path

import torch

from . import cuda
from .flops import evaluation_flop


def clock(device: torch.device) -> float:
    """``time.perf_counter()`` once the device has finished the work queued so far."""
    if cuda.is_cuda(device):
        cuda.synchronize(device)
    return time.perf_counter()


def evaluation_tflop(size: tuple[int, int]) -> float:
    """TFLOP of one VGG19 forward and backward to relu5_1 at ``size`` (width, height), counted from the layers'
    shapes (see :mod:`benchmarks.flops`): 0.397 at 512×512."""
    return evaluation_flop(size) / 1e12


class PeakMemory:
    """The peak memory of this process during a ``with`` block, in MiB.

    On CUDA: ``torch.cuda.max_memory_allocated``. On the CPU: the peak resident
    set size (``VmHWM``), reset at the start of the block through
    ``/proc/self/clear_refs`` (Linux); ``mib`` stays ``None`` where that is
    impossible, rather than reporting a peak from an earlier phase.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.mib: float | None = None
        self._reset_done = False

    def __enter__(self) -> PeakMemory:
        if cuda.is_cuda(self.device):
            cuda.reset_peak_memory(self.device)
            self._reset_done = True
        else:
            try:
                Path("/proc/self/clear_refs").write_text("5")
                self._reset_done = True
            except OSError:
                self._reset_done = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._reset_done:
            return
        if cuda.is_cuda(self.device):
            self.mib = cuda.peak_memory_bytes(self.device) / 2**20
        else:
            status = Path("/proc/self/status").read_text()
            self.mib = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
