"""The device the benchmark commands run on: their ``--device``, ``--precision`` and ``--tf32`` options, and the
peak arithmetic rates that achieved TFLOP/s are compared with.

On CUDA, PyTorch runs fp32 convolutions on TF32 tensor cores by default (10-bit mantissas), so "fp32" there is
not the CPU's fp32. The commands set it explicitly (``--tf32 off`` by default: fp32 is IEEE fp32, as on a CPU, and
the judge's figures match the CPU's) and report what they used.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

import torch

from styletransfer import Stylizer
from styletransfer.weights import BackboneWeights

from . import cuda

#: Dense peak TFLOP/s (no sparsity) of known GPUs, from NVIDIA's data sheets: bf16 and TF32 on tensor cores, fp32
#: on the CUDA cores. Keys are matched against the device's name, the longest first ("H100 PCIe" before "H100").
#: The T4 (compute capability 7.5) has neither bf16 nor TF32 tensor cores. A MIG slice (as on ZeroGPU) has a share of
#: its GPU's rate: give it with ``--peak-tflops``.
KNOWN_GPUS: dict[str, dict[str, float]] = {
    "H200": {"bf16": 989.0, "tf32": 494.0, "fp32": 67.0},
    "H200 NVL": {"bf16": 835.0, "tf32": 418.0, "fp32": 60.0},
    "H100": {"bf16": 989.0, "tf32": 494.0, "fp32": 67.0},
    "H100 PCIe": {"bf16": 756.0, "tf32": 378.0, "fp32": 51.0},
    "H100 NVL": {"bf16": 835.0, "tf32": 418.0, "fp32": 60.0},
    "A100": {"bf16": 312.0, "tf32": 156.0, "fp32": 19.5},
    "L4": {"bf16": 121.0, "tf32": 60.0, "fp32": 30.3},
    "T4": {"fp32": 8.1},
}
PRECISIONS = ("bf16", "tf32", "fp32")


def known_peaks(gpu: str) -> dict[str, float]:
    """The peak TFLOP/s by precision of the GPU named ``gpu`` (see :data:`KNOWN_GPUS`): the longest key whose words
    are words of the name (``NVIDIA A100-SXM4-80GB`` is an A100, ``NVIDIA L40S`` no L4); empty when unknown or a
    MIG slice."""
    words = gpu.replace("-", " ").split()
    if "MIG" in words:
        return {}

    def within(key: str) -> bool:
        parts = key.split()
        return any(words[i : i + len(parts)] == parts for i in range(len(words)))

    matches = [key for key in KNOWN_GPUS if within(key)]
    return dict(KNOWN_GPUS[max(matches, key=len)]) if matches else {}


def parse_peaks(items: list[str]) -> dict[str, float]:
    """``--peak-tflops``: one number for every precision, or ``PRECISION=NUMBER`` pairs (``bf16=989 tf32=494``)."""
    peaks: dict[str, float] = {}
    for item in items:
        key, sep, value = item.rpartition("=")
        if sep and key not in PRECISIONS:
            raise ValueError(f"A peak is NUMBER or PRECISION=NUMBER with PRECISION one of {', '.join(PRECISIONS)}.")
        number = float(value)
        peaks.update({key: number} if sep else dict.fromkeys(PRECISIONS, number))
    return peaks


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--precision`` and ``--tf32``, the same for every benchmark command."""
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where to run (default cpu)")
    parser.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="auto",
        help="our engine's precision (default auto: bf16 where the hardware has it); references and judge run fp32",
    )
    parser.add_argument(
        "--tf32",
        choices=["on", "off"],
        default="off",
        help="on CUDA, run fp32 convolutions and matrix products on TF32 tensor cores (PyTorch's default for "
        "convolutions) or in IEEE fp32 (default off, as on a CPU)",
    )


def check_device(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse ``--device cuda`` where there is no CUDA GPU."""
    if args.device == "cuda" and not cuda.available():
        parser.error("--device cuda: no CUDA GPU is available.")


def torch_device(args: argparse.Namespace) -> torch.device:
    """The device ``args`` ask for, with TF32 set as ``--tf32`` says on CUDA."""
    if args.device != "cuda":
        return torch.device(args.device)
    cuda.set_tf32(args.tf32 == "on")
    return cuda.device()


def stylizer_for(args: argparse.Namespace, weights: BackboneWeights | str = "bundled") -> Stylizer:
    """Our engine on the device and in the precision ``args`` ask for."""
    return Stylizer(weights, device=torch_device(args), precision=args.precision)


def fp32_kind(device: torch.device) -> str:
    """What fp32 work runs as on ``device``: ``"tf32"`` on CUDA with TF32 on, else ``"fp32"``."""
    return "tf32" if cuda.is_cuda(device) and cuda.tf32_enabled() else "fp32"


def describe(device: torch.device, peaks: Mapping[str, float]) -> dict[str, str]:
    """The device's name, TF32 state and peaks, for the benchmark's machine line and results."""
    if not cuda.is_cuda(device):
        return {}
    known = ", ".join(f"{key} {value:g}" for key, value in peaks.items()) or "unknown (give --peak-tflops)"
    return {"gpu": cuda.name(device), "tf32": "on" if cuda.tf32_enabled() else "off", "peak_tflops": known}
