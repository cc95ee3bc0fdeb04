"""The README's front matter is the Hugging Face Space's configuration: it must match the code and the pins."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from styletransfer.weights import HUB_FILENAME, HUB_REPO_ID

ROOT = Path(__file__).resolve().parent.parent


def front_matter() -> dict:
    """The YAML block between the README's two leading ``---`` lines."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, flags=re.DOTALL)
    assert match, "README.md does not start with a --- front matter block"
    return yaml.safe_load(match.group(1))


def pinned(package: str) -> str:
    """The version that requirements.txt pins ``package`` to with ``==``."""
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(package)}==(\S+)", text, flags=re.MULTILINE)
    assert match, f"requirements.txt does not pin {package}"
    return match.group(1)


def test_the_space_runs_the_pinned_gradio_and_an_existing_app_file():
    config = front_matter()
    assert config["sdk"] == "gradio"
    assert str(config["sdk_version"]) == pinned("gradio")
    assert (ROOT / config["app_file"]).is_file()


def test_the_space_preloads_the_backbone_weights_the_code_downloads():
    preloads = [entry.split() for entry in front_matter()["preload_from_hub"]]
    assert any(repo == HUB_REPO_ID and HUB_FILENAME in files.split(",") for repo, files, *_ in preloads), preloads
