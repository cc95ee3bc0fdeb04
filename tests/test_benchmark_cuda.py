"""The CUDA benchmark's paths, run on the CPU with every CUDA-only call (``benchmarks.cuda``) stubbed; the FLOP
count against a hand count; the known GPUs' peaks. No timing is asserted."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import cuda, hardware, run
from benchmarks.flops import conv_flop, evaluation_flop, gram_flop, map_size
from benchmarks.measure import evaluation_tflop
from styletransfer import StyleConfig, Stylizer

from .conftest import run_in_process

H100 = "NVIDIA H100 80GB HBM3"


@pytest.fixture
def fake_gpu(monkeypatch) -> dict:
    """The CPU standing in for an H100: ``benchmarks.cuda``'s functions stubbed; returns what they were asked."""
    seen = {"synchronized": 0, "tf32": True}  # PyTorch's default runs fp32 convolutions in TF32
    stubs = {
        "available": lambda: True,
        "device": lambda: torch.device("cpu"),
        "is_cuda": lambda device: True,
        "name": lambda device: H100,
        "synchronize": lambda device: seen.update(synchronized=seen["synchronized"] + 1),
        "reset_peak_memory": lambda device: None,
        "peak_memory_bytes": lambda device: 3 * 2**30,
        "memory_bytes": lambda device: 2**30,
        "set_tf32": lambda enabled: seen.update(tf32=enabled),
        "tf32_enabled": lambda: seen["tf32"],
    }
    for name, stub in stubs.items():
        monkeypatch.setattr(cuda, name, stub)
    return seen


def test_the_cuda_help_names_tf32_and_the_peaks(capsys):
    ran = run_in_process(run.main, ["--device", "cuda", "--help"], capsys)
    assert ran.code == 0
    assert "--tf32 {on,off}" in ran.out and "--peak-tflops" in ran.out and "H100" in ran.out


def test_without_a_gpu_cuda_is_refused(capsys, monkeypatch):
    monkeypatch.setattr(cuda, "available", lambda: False)
    ran = run_in_process(run.main, ["--device", "cuda", "--quick"], capsys)
    assert ran.code == 2 and "no CUDA GPU is available" in ran.err


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_the_default_sizes_are_real_and_distinct_for_the_default_pairs(device):
    requested = run.DEFAULT_SIZES[device]
    for pair in run.load_pairs(run.parse_args([])):  # cat 451×300, coffee 600×400
        sizes = run.planned_sizes([pair], requested, StyleConfig())
        assert len(set(sizes)) == len(requested), (pair.name, sizes)
        assert [max(size) for size in sizes] == requested  # the photo enlarged to each size


@pytest.mark.slow
def test_the_quick_cuda_benchmark_runs_its_gpu_path(fake_gpu, tmp_path, capsys):
    args = ["--device", "cuda", "--quick", "--evaluations", "4", "--references", "tutorial", "--out", str(tmp_path)]
    ran = run_in_process(run.main, [*args, "--set", "iterations=4", "scales=1"], capsys)
    assert ran.code == 0, ran.err
    assert "warming up" in ran.err and fake_gpu["synchronized"] > 0  # clocks waited for the "GPU"
    assert fake_gpu["tf32"] is False  # --tf32 off by default: fp32 is IEEE fp32, as on a CPU
    machine = json.loads((tmp_path / "results.json").read_text())["machine"]
    assert (machine["gpu"], machine["tf32"]) == (H100, "off")
    assert machine["peak_tflops"] == "bf16 989, tf32 494, fp32 67"
    ours = Stylizer("bundled", device="cpu").precision  # the stand-in's own: fp32 here, bf16 with AVX512-BF16/AMX
    throughput = ran.out.split("| size | pair | ")[-1].splitlines()[0]
    assert "ref % of fp32 peak 67" in throughput
    assert f"ours % of {ours} peak {hardware.KNOWN_GPUS['H100'][ours]:g}" in throughput


def test_tf32_is_set_as_asked(fake_gpu):
    args = run.parse_args(["--device", "cuda", "--tf32", "on"])
    assert hardware.torch_device(args) == torch.device("cpu") and fake_gpu["tf32"] is True
    assert hardware.fp32_kind(torch.device("cpu")) == "tf32"
    hardware.torch_device(run.parse_args(["--device", "cuda"]))
    assert fake_gpu["tf32"] is False and hardware.fp32_kind(torch.device("cpu")) == "fp32"


def test_the_flop_count_of_one_layer_matches_a_hand_count():
    # conv1_2 at 512×512: 64 maps in, 64 out, 3×3 weights, a multiply and an add each, at every one of 512² cells.
    assert conv_flop(64, 64, (512, 512)) == 2 * 64 * 64 * 3 * 3 * 512 * 512 == 19_327_352_832
    # conv4_1 sees the picture after three poolings (odd sides round down): 256 → 512 maps at 64×48 for 513×385.
    assert map_size((513, 385), 4) == (64, 48)
    assert conv_flop(256, 512, map_size((513, 385), 4)) == 2 * 256 * 512 * 9 * 64 * 48
    # relu1_1's Gram matrix: 64 × 64 dot products over 512² cells.
    assert gram_flop(64, (512, 512)) == 2 * 64 * 64 * 512 * 512


def test_an_evaluation_is_forward_and_backward_of_every_layer_to_relu5_1():
    forward_convs = conv_flop(3, 64, (512, 512)) + conv_flop(64, 64, (512, 512))
    assert evaluation_flop((512, 512), deepest="relu1_2", style_layers=()) == 2 * forward_convs
    with_gram = evaluation_flop((512, 512), deepest="relu1_2", style_layers=("relu1_1",))
    assert with_gram == 2 * forward_convs + 2 * gram_flop(64, (512, 512))
    assert evaluation_tflop((512, 512)) == pytest.approx(0.397, abs=0.0005)
    assert evaluation_tflop((1024, 1024)) == pytest.approx(4 * evaluation_tflop((512, 512)), rel=1e-9)


@pytest.mark.parametrize(
    ("name", "bf16"),
    [
        (H100, 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA H200", 989.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA L4", 121.0),
        ("Tesla T4", None),
        ("NVIDIA L40S", None),
        ("NVIDIA H200 MIG 3g.71gb", None),
    ],
)
def test_the_known_gpus_peaks_by_name(name, bf16):
    assert hardware.known_peaks(name).get("bf16") == bf16


def test_peaks_are_given_as_one_number_or_per_precision():
    assert hardware.parse_peaks(["100"]) == {"bf16": 100.0, "tf32": 100.0, "fp32": 100.0}
    assert hardware.parse_peaks(["bf16=989", "fp32=67"]) == {"bf16": 989.0, "fp32": 67.0}
    with pytest.raises(ValueError, match="PRECISION=NUMBER"):
        hardware.parse_peaks(["fp16=65"])
