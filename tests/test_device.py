"""The precision the engine picks: bf16 only where the hardware in use computes it natively (capability faked)."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch

from styletransfer import device as devices


@pytest.fixture
def capability(monkeypatch):
    """Fake CUDA GPUs: set ``.value`` to a compute capability; ``.asked`` records the devices asked about. Asking
    ``torch.cuda.is_bf16_supported`` fails the test: by default it says yes where bf16 is only emulated."""

    class Fake:
        value = (0, 0)
        asked: ClassVar[list[torch.device]] = []

    def get_device_capability(device=None):
        Fake.asked.append(device)
        return Fake.value

    def is_bf16_supported(*args, **kwargs):
        raise AssertionError("is_bf16_supported says yes on a T4 (emulation); the capability decides")

    monkeypatch.setattr(torch.cuda, "get_device_capability", get_device_capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    return Fake


@pytest.mark.parametrize(
    ("gpu", "compute_capability", "precision"),
    [
        ("V100", (7, 0), "fp32"),
        ("T4", (7, 5), "fp32"),
        ("A100", (8, 0), "bf16"),
        ("L4", (8, 9), "bf16"),
        ("H100", (9, 0), "bf16"),
    ],
)
def test_auto_is_bf16_only_on_gpus_with_bf16_tensor_cores(capability, gpu, compute_capability, precision):
    capability.value = compute_capability
    assert devices.pick_precision(torch.device("cuda"), "auto") == precision, gpu


def test_the_gpu_asked_about_is_the_one_in_use(capability):
    capability.value = (7, 5)
    capability.asked.clear()
    assert devices.pick_precision(torch.device("cuda:1")) == "fp32"
    assert capability.asked == [torch.device("cuda:1")]


def test_an_explicit_precision_is_kept_whatever_the_hardware(capability):
    capability.value = (7, 5)
    assert devices.pick_precision(torch.device("cuda"), "bf16") == "bf16"
    capability.value = (9, 0)
    assert devices.pick_precision(torch.device("cuda"), "fp32") == "fp32"


@pytest.mark.parametrize(("native", "precision"), [(True, "bf16"), (False, "fp32")])
def test_a_cpu_runs_bf16_only_with_avx512_bf16_or_amx(monkeypatch, native, precision):
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: native)
    assert devices.pick_precision(torch.device("cpu")) == precision


def test_other_devices_run_fp32():
    assert devices.pick_precision(torch.device("mps")) == "fp32"


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be auto, bf16 or fp32"):
        devices.pick_precision(torch.device("cpu"), "fp16")
