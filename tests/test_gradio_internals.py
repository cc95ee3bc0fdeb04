"""What ``webapp.gradio_internals`` relies on in Gradio, each checked on a small real server: if a Gradio upgrade
removes one, the test named for it fails."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.app_server import EXAMPLES, free_port
from webapp.gradio_internals import naming_refusals, share_queue, vetting_uploads

pytestmark = pytest.mark.slow


def echo(level: float, picture: str | None) -> str:
    return f"{level} {picture is not None}"


def build() -> tuple[gr.Blocks, gr.Examples]:
    with gr.Blocks() as demo:
        level = naming_refusals(gr.Slider(0, 10, 5, label="Level"), "level")
        picture = vetting_uploads(gr.Image(type="filepath"), "test picture")
        answer = gr.Textbox()
        gr.Button().click(echo, inputs=[level, picture], outputs=answer, api_name="echo", concurrency_id="work")
        examples = gr.Examples(
            [[1, str(EXAMPLES / "cat.jpg")]],
            inputs=[level, picture],
            outputs=answer,
            fn=echo,
            cache_examples=True,
            cache_mode="lazy",
        )
    share_queue(demo, examples, "work")
    return demo, examples


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[Client]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path_factory.mktemp("examples")))
        demo, _ = build()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


def test_gradio_calls_the_instance_preprocess_of_a_setting(client):
    assert client.predict(level=3, picture=None, api_name="/echo") == "3 False"
    with pytest.raises(AppError, match="Setting 'level': Value 11 is greater than maximum value 10"):
        client.predict(level=11, picture=None, api_name="/echo")


def test_gradio_calls_the_instance_preprocess_of_an_image_with_the_uploads_path(client, tmp_path):
    assert client.predict(level=1, picture=handle_file(str(EXAMPLES / "cat.jpg")), api_name="/echo") == "1 True"
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(b"%PDF-1.4 not an image")
    with pytest.raises(AppError, match="The test picture is not an image that can be read"):
        client.predict(level=1, picture=handle_file(str(fake)), api_name="/echo")


def test_gradio_examples_keep_their_cached_run_in_demo_fns(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path))
    demo, examples = build()
    assert examples.cache_event is not None, "gr.Examples no longer exposes its cached run's event"
    run = demo.fns[examples.cache_event["id"]]
    assert (run.concurrency_id, run.concurrency_limit) == ("work", 1)
