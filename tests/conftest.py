"""Shared fixtures: the example images, a CPU stylizer with the bundled original weights, and the app's studio on
them with a server of its own (modules that need another studio or server define their own)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from PIL import Image

from styletransfer import Stylizer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def stylizer() -> Stylizer:
    """The real original VGG19 weights on the CPU, loaded once for the whole run."""
    return Stylizer("bundled", device="cpu")


@pytest.fixture(scope="module")
def studio():
    """The page's callbacks on the bundled weights (a :class:`webapp.jobs.Studio`), one per test module."""
    from tests.app_server import bundled_studio

    return bundled_studio()


@pytest.fixture(scope="module")
def client(studio, tmp_path_factory) -> Iterator:
    """A ``gradio_client`` client of the real app on :func:`studio`, served on 127.0.0.1 with a queue of 4."""
    from gradio_client import Client

    from tests.app_server import running_app

    with running_app(studio, queue_size=4, examples_cache=tmp_path_factory.mktemp("examples")) as url:
        yield Client(url, verbose=False)


@pytest.fixture(scope="session")
def content_image() -> Image.Image:
    """A real photo (600×400), so aspect-ratio handling is exercised."""
    return Image.open(EXAMPLES / "coffee.jpg").convert("RGB")


@pytest.fixture(scope="session")
def style_image() -> Image.Image:
    return Image.open(EXAMPLES / "style_swirls.jpg").convert("RGB")


@pytest.fixture(scope="session")
def second_style_image() -> Image.Image:
    return Image.open(EXAMPLES / "style_mosaic.jpg").convert("RGB")


@dataclass(frozen=True)
class Ran:
    """What a command's ``main`` did, run in this process."""

    code: int | str | None
    out: str
    err: str


def run_in_process(main: Callable[[list[str]], int], args: Sequence[str], capsys) -> Ran:
    """Run a command's ``main`` with ``args`` in this process, as ``python -m`` would run it but with no interpreter
    to start (about 10 s each): its exit code (argparse's refusals included), standard output and error. The
    commands set torch's thread count; it is put back after."""
    threads = torch.get_num_threads()
    try:
        code = main(list(args))
    except SystemExit as stop:
        code = stop.code
    finally:
        torch.set_num_threads(threads)
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)
