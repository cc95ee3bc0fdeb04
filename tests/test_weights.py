"""Where the VGG19 weights come from: the Hub (through a local stand-in), its cache, the bundled file, a local file."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import save, save_file
from torch import Tensor

from styletransfer import weights
from styletransfer.features import CAFFE_NORMALIZATION, IMAGENET_NORMALIZATION, VGG19_SHAPES
from styletransfer.weights import WeightsError, load_bundled_weights, load_safetensors_weights, load_weights
from tests.hub_server import COMMIT, HubServer, black_hole, closed_port

REPO_ROOT = Path(__file__).resolve().parent.parent
REPO_ID = "timm/vgg19.tv_in1k"
RESOLVE_PATH = f"/{REPO_ID}/resolve/main/model.safetensors"


@pytest.fixture(autouse=True)
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the in-process tests independent of an ``HF_HUB_OFFLINE`` set in the caller's shell."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture(scope="module")
def timm_state() -> dict[str, Tensor]:
    """A random VGG19 in the timm/torchvision layout, with classifier tensors the loader must skip."""
    generator = torch.Generator().manual_seed(0)
    state = {key: torch.randn(shape, generator=generator) * 0.01 for key, shape in VGG19_SHAPES.items()}
    state["pre_logits.fc1.weight"] = torch.randn(8, 16, generator=generator)
    state["head.fc.weight"] = torch.randn(10, 8, generator=generator)
    state["head.fc.bias"] = torch.zeros(10)
    return state


@pytest.fixture(scope="module")
def timm_file(timm_state: dict[str, Tensor]) -> bytes:
    """``timm_state`` as the bytes of a ``model.safetensors``."""
    return save(timm_state, metadata={"format": "pt"})


@pytest.fixture
def hub(timm_file: bytes) -> Iterator[HubServer]:
    """A local Hub serving ``timm_file`` as ``timm/vgg19.tv_in1k/model.safetensors``."""
    with HubServer({(REPO_ID, "model.safetensors"): timm_file}) as server:
        yield server


def assert_same_convs(loaded: dict[str, Tensor], served: dict[str, Tensor]) -> None:
    """Check that ``loaded`` holds exactly the VGG19 conv tensors of ``served``, as float32."""
    assert set(loaded) == set(VGG19_SHAPES)
    for key in VGG19_SHAPES:
        assert loaded[key].dtype == torch.float32, key
        assert torch.equal(loaded[key], served[key].float()), key


def assert_fell_back(loaded: weights.BackboneWeights, caplog: pytest.LogCaptureFixture) -> None:
    """Check that ``loaded`` are the bundled weights, with a notice that was also logged as a warning."""
    assert loaded.source == "bundled"
    assert loaded.normalization == CAFFE_NORMALIZATION
    assert loaded.notice is not None and "Hugging Face Hub unavailable" in loaded.notice
    warnings = [r for r in caplog.records if r.name == "styletransfer" and r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [loaded.notice]


# --- The Hub -----------------------------------------------------------------------------------


def test_hub_download_then_cache_without_request(hub: HubServer, timm_state: dict[str, Tensor], tmp_path: Path):
    loaded = load_weights("hub", repo_id=REPO_ID, endpoint=hub.url, cache_dir=tmp_path)

    assert loaded.source == "hub"
    assert loaded.description == f"{REPO_ID}@main"
    assert loaded.normalization == IMAGENET_NORMALIZATION
    assert loaded.notice is None
    assert_same_convs(loaded.state, timm_state)
    assert ("GET", RESOLVE_PATH) in hub.requests
    # It went into the standard Hub cache layout, under the commit the server announced.
    assert (tmp_path / "models--timm--vgg19.tv_in1k" / "snapshots" / COMMIT / "model.safetensors").is_file()

    requests_so_far = list(hub.requests)
    again = load_weights("auto", repo_id=REPO_ID, endpoint=hub.url, cache_dir=tmp_path)

    assert again.source == "hub"
    assert hub.requests == requests_so_far, "a cached file must load without any request"
    assert_same_convs(again.state, timm_state)


def test_hub_download_resumes_after_a_dropped_connection(
    timm_file: bytes, timm_state: dict[str, Tensor], tmp_path: Path
):
    # About 80 MB: cut halfway, several of huggingface_hub's 10 MB chunks are already on disk.
    half = len(timm_file) // 2
    with HubServer({(REPO_ID, "model.safetensors"): timm_file}, cut_first_get_after=half) as server:
        loaded = load_weights("hub", repo_id=REPO_ID, endpoint=server.url, cache_dir=tmp_path)

    assert [request for request in server.requests if request[0] == "GET"] == [("GET", RESOLVE_PATH)] * 2
    assert len(server.range_starts) == 1 and 0 < server.range_starts[0] <= half, server.range_starts
    assert_same_convs(loaded.state, timm_state)


def test_auto_falls_back_fast_when_the_connection_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger="styletransfer")
    start = time.monotonic()
    loaded = load_weights("auto", endpoint=f"http://127.0.0.1:{closed_port()}", cache_dir=tmp_path)
    elapsed = time.monotonic() - start

    assert_fell_back(loaded, caplog)
    assert "refused" in loaded.notice
    assert elapsed < 10, f"a dead network must be detected within about 10 s, took {elapsed:.1f} s"


def test_auto_falls_back_within_the_timeout_when_the_hub_never_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, logger="styletransfer")
    with black_hole() as url:
        start = time.monotonic()
        loaded = load_weights("auto", endpoint=url, cache_dir=tmp_path, timeout=2.0)
        elapsed = time.monotonic() - start

    assert_fell_back(loaded, caplog)
    assert "timed out" in loaded.notice
    assert 2.0 <= elapsed < 8, f"took {elapsed:.1f} s with timeout=2.0"


def test_hub_source_raises_instead_of_falling_back(tmp_path: Path):
    with pytest.raises(weights.HubUnavailableError, match="refused"):
        load_weights("hub", endpoint=f"http://127.0.0.1:{closed_port()}", cache_dir=tmp_path)


def test_offline_mode_uses_bundled_weights_without_a_request(hub: HubServer, tmp_path: Path):
    script = (
        "import sys\n"
        "from styletransfer.weights import load_weights\n"
        "loaded = load_weights('auto', endpoint=sys.argv[1], cache_dir=sys.argv[2])\n"
        "print(loaded.source)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home")}
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", script, hub.url, str(tmp_path / "cache")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - start

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "bundled"
    assert "Hugging Face Hub unavailable (HF_HUB_OFFLINE is set" in result.stderr
    assert hub.requests == []
    assert elapsed < 30, f"took {elapsed:.1f} s"


# --- Nothing downloaded is unpickled --------------------------------------------------------------


class _MakesDirectoryWhenUnpickled:
    """A pickle payload: unpickling it runs ``os.mkdir(path)``, as a malicious ``.bin`` could run anything."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.path),)


def booby_trapped_checkpoint(marker: Path) -> bytes:
    """A ``torch.save`` checkpoint (a ``pytorch_model.bin``) whose unpickling creates the directory ``marker``."""
    buffer = io.BytesIO()
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3), "payload": _MakesDirectoryWhenUnpickled(marker)}, buffer)
    return buffer.getvalue()


def test_a_pickle_served_as_safetensors_is_rejected_not_run(tmp_path: Path):
    probe = tmp_path / "probe"
    torch.load(io.BytesIO(booby_trapped_checkpoint(probe)), weights_only=False)
    assert probe.is_dir(), "the payload must be live for this test to mean anything"

    marker = tmp_path / "pwned"
    files = {(REPO_ID, "model.safetensors"): booby_trapped_checkpoint(marker)}
    with HubServer(files) as server, pytest.raises(WeightsError, match="not a readable safetensors file"):
        load_weights("auto", repo_id=REPO_ID, endpoint=server.url, cache_dir=tmp_path / "cache")
    assert not marker.exists()


def test_bundled_file_is_read_with_weights_only(monkeypatch: pytest.MonkeyPatch):
    calls: list[dict[str, object]] = []
    real_load = torch.load

    def recording_load(*args: object, **kwargs: object) -> object:
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    load_bundled_weights()

    assert len(calls) == 1
    assert calls[0]["weights_only"] is True


# --- The bundled original weights ------------------------------------------------------------------


def test_bundled_weights_are_the_caffe_vgg19():
    loaded = load_bundled_weights()

    assert loaded.source == "bundled"
    assert loaded.normalization == CAFFE_NORMALIZATION
    assert loaded.normalization.bgr and loaded.normalization.scale == 255.0
    assert len(loaded.state) == 32
    assert {key: tuple(tensor.shape) for key, tensor in loaded.state.items()} == VGG19_SHAPES
    for key, tensor in loaded.state.items():
        assert tensor.dtype == torch.float32, key
        assert tensor.abs().sum() > 0, key
    # Rebuilt from k-means centroids: each weight tensor holds at most 256 distinct values.
    for key in VGG19_SHAPES:
        if key.endswith(".weight"):
            assert loaded.state[key].unique().numel() <= 256, key


def test_a_corrupt_bundled_file_is_refused(tmp_path: Path):
    data = bytearray(weights.bundled_weights_path().read_bytes())
    data[len(data) // 2] ^= 0x01
    corrupt = tmp_path / "vgg19_q.bin"
    corrupt.write_bytes(bytes(data))

    with pytest.raises(WeightsError, match="sha256") as error:
        load_bundled_weights(corrupt)
    assert str(corrupt) in str(error.value)


# --- A local safetensors file ----------------------------------------------------------------------


def test_a_local_file_loads(timm_state: dict[str, Tensor], tmp_path: Path):
    path = tmp_path / "vgg19.safetensors"
    save_file(timm_state, path)

    loaded = load_weights(path)

    assert loaded.source == "file"
    assert loaded.description == str(path)
    assert loaded.normalization == IMAGENET_NORMALIZATION
    assert_same_convs(loaded.state, timm_state)


def test_a_local_file_missing_a_tensor(timm_state: dict[str, Tensor], tmp_path: Path):
    path = tmp_path / "incomplete.safetensors"
    save_file({key: tensor for key, tensor in timm_state.items() if key != "features.34.bias"}, path)

    with pytest.raises(WeightsError, match=r"1 tensors are missing, first 'features\.34\.bias'") as error:
        load_safetensors_weights(path)
    assert str(path) in str(error.value)


def test_a_local_file_with_a_wrong_shape(timm_state: dict[str, Tensor], tmp_path: Path):
    path = tmp_path / "wrong_shape.safetensors"
    save_file({**timm_state, "features.2.weight": torch.zeros(64, 64, 1, 1)}, path)

    with pytest.raises(WeightsError, match=r"tensor features\.2\.weight has shape \(64, 64, 1, 1\)") as error:
        load_safetensors_weights(path)
    assert str(path) in str(error.value)


def test_a_local_file_with_non_finite_values(timm_state: dict[str, Tensor], tmp_path: Path):
    path = tmp_path / "nan.safetensors"
    broken = timm_state["features.0.bias"].clone()
    broken[3] = float("nan")
    save_file({**timm_state, "features.0.bias": broken}, path)

    with pytest.raises(WeightsError, match=r"features\.0\.bias holds NaN") as error:
        load_safetensors_weights(path)
    assert str(path) in str(error.value)


def test_a_local_file_of_garbage(tmp_path: Path):
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(b"this is no safetensors header\n" * 100)

    with pytest.raises(WeightsError, match="not a readable safetensors file") as error:
        load_safetensors_weights(path)
    assert str(path) in str(error.value)


def test_a_missing_local_file(tmp_path: Path):
    path = tmp_path / "nowhere.safetensors"

    with pytest.raises(WeightsError, match="does not exist") as error:
        load_weights(path)
    assert str(path) in str(error.value)
