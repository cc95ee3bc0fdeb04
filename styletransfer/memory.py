"""How much memory a scale needs, how much there is, and the tiles that make a scale fit.

The estimates are per pixel, measured on this engine (fp32, VGG19 up to relu5_1,
peak resident memory of one evaluation with gradients minus the memory before
it, at 512, 768 and 1024 px: 122 MiB + 2313 bytes per pixel; see
``python -m benchmarks.tiling``). They are rounded up: a plan that tiles a little
early costs some speed, one that tiles too late runs out of memory.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from .tiling import alignment_for, cut, margin_for

#: Bytes one evaluation with gradients needs per pixel of the picture (or of a tile's window), and besides.
EVALUATION_BYTES_PER_PIXEL = 2400
EVALUATION_BYTES_FIXED = 128 * 2**20
#: Bytes per pixel of the picture that stay for a whole scale, whatever the tiles: the picture, its gradient,
#: the optimiser's other full-size vectors (about 6 of 3 × fp32), the photo and its relu4_2 target.
PICTURE_BYTES_PER_PIXEL = 128
#: Bytes per pixel of each entry of L-BFGS's history (a step and a gradient change, 3 channels × fp32 each).
HISTORY_BYTES_PER_PIXEL = 24
#: L-BFGS's history: at most this many steps, but no more than a quarter of the memory, and no fewer than
#: ``MIN_HISTORY`` (measured: see the README's print sizes section).
MAX_HISTORY = 50
MIN_HISTORY = 5
HISTORY_SHARE = 0.25
#: The smallest tile core worth cutting: below it the margins cost more than 10× the core's work.
MIN_CORE = 64

_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_memory(text: str) -> int:
    """Bytes from a size such as ``"2GB"``, ``"512MB"``, ``"1.5 GiB"`` or ``"800000000"`` (binary units: 1 GB is
    2³⁰ bytes); ``ValueError`` for anything else."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", str(text), flags=re.IGNORECASE)
    if match is None:
        raise ValueError(f"A memory size looks like 2GB, 512MB or 1.5GiB; got {text!r}.")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def readable_bytes(size: float) -> str:
    """A byte count for people: ``"1.5 GB"``, ``"640 MB"``."""
    return f"{size / 2**30:.3g} GB" if size >= 2**30 else f"{size / 2**20:.0f} MB"


def available_memory(device: torch.device) -> int:
    """Bytes a job may still take on ``device``: free CUDA memory (and what PyTorch holds unused) on a GPU; on a
    CPU the kernel's ``MemAvailable``, or less where a container's limit (cgroup v2) leaves less."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    available = _meminfo_available()
    limit, used = _read_number("/sys/fs/cgroup/memory.max"), _read_number("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        available = min(available, max(0, limit - used))
    return available


def _meminfo_available() -> int:
    try:
        match = re.search(r"MemAvailable:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    except OSError:
        match = None
    if match is None:  # no /proc: the physical memory is all we can know
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(match.group(1)) * 1024


def _read_number(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class MemoryPlan:
    """How one scale runs within its memory: whole or in tiles, and with how much optimiser history."""

    size: tuple[int, int]
    """(width, height) of the scale."""
    core: int | None
    """The side of a tile's core in pixels; ``None``: the whole picture at once."""
    tiles: int
    """How many tiles one evaluation takes (1: untiled)."""
    history: int
    """L-BFGS's history length."""
    needed: int
    """Bytes this plan is estimated to take at its peak."""
    untiled: int
    """Bytes the scale would take untiled (with the same history)."""

    @property
    def tiled(self) -> bool:
        """Whether the scale is evaluated tile by tile."""
        return self.core is not None


def evaluation_bytes(pixels: int) -> int:
    """Estimated peak bytes of one evaluation with gradients of a picture (or a window) of ``pixels``."""
    return EVALUATION_BYTES_FIXED + EVALUATION_BYTES_PER_PIXEL * pixels


def plan_scale(
    size: tuple[int, int], layers: tuple[str, ...], budget: int, *, keeps_picture: bool = True
) -> MemoryPlan:
    """The plan for a scale of (width, height) ``size`` at ``layers`` within ``budget`` bytes: untiled where it
    fits, else tiles as large as fit. ``keeps_picture=False`` plans a pass without an optimiser (a style image's
    statistics). ``ValueError`` if even the smallest tiles do not fit."""
    width, height = size
    pixels = width * height
    history = _history(pixels, budget) if keeps_picture else 0
    kept = (PICTURE_BYTES_PER_PIXEL + HISTORY_BYTES_PER_PIXEL * history) * pixels if keeps_picture else 0
    untiled = kept + evaluation_bytes(pixels)
    if untiled <= budget:
        return MemoryPlan(size, None, 1, history, untiled, untiled)
    margin, align = margin_for(layers), alignment_for(layers)
    room = (budget - kept - EVALUATION_BYTES_FIXED) / EVALUATION_BYTES_PER_PIXEL
    core = int(math.sqrt(max(room, 0)) - 2 * margin) // align * align
    if core < MIN_CORE:
        smallest = kept + evaluation_bytes((MIN_CORE + 2 * margin) ** 2)
        raise ValueError(
            f"{width}×{height} px needs at least {readable_bytes(smallest)} of memory even in tiles; there is "
            f"{readable_bytes(budget)}. Lower the size or raise the memory limit."
        )
    tiles = cut((height, width), core, layers)
    window = max((t.window[2] - t.window[0]) * (t.window[3] - t.window[1]) for t in tiles)
    return MemoryPlan(size, core, len(tiles), history, kept + evaluation_bytes(window), untiled)


def _history(pixels: int, budget: int) -> int:
    """L-BFGS's history length for a picture of ``pixels`` within ``budget`` bytes (see :data:`HISTORY_SHARE`)."""
    fits = int(HISTORY_SHARE * budget / (HISTORY_BYTES_PER_PIXEL * pixels))
    return max(MIN_HISTORY, min(MAX_HISTORY, fits))
