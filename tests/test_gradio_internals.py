"""What ``webapp.gradio_internals`` relies on in Gradio, each checked on a small real server: if a Gradio upgrade
removes one, the test named for it fails."""

from __future__ import annotations

import asyncio
import io
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import pytest
from gradio.components.image_editor import EditorData
from gradio.data_classes import DataWithFiles, FileData
from gradio.processing_utils import async_move_files_to_cache
from gradio.state_holder import StateHolder
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from benchmarks.fuzz import raw_queue_call
from tests.app_server import EXAMPLES, HANG_GUARD, free_port, visitor_client, wait_until
from webapp.blobs import BlobLedger, BlobLimits
from webapp.gradio_internals import (
    FILE_ROUTE,
    UPLOAD_ROUTES,
    checking_inputs,
    closing_extras,
    files_in_queue,
    guarding_blobs,
    kept_for_the_page,
    limiting_jobs,
    naming_refusals,
    refusing_urls,
    serving_no_extra_paths,
    share_queue,
    sharing_sessions_fairly,
    vetting_editor_images,
    vetting_uploads,
)
from webapp.visitors import TRUSTED_PROXIES_ENV, SessionOwners, current_visitor

pytestmark = pytest.mark.slow


def echo(level: float, picture: str | None) -> str:
    return f"{level} {picture is not None}"


def build() -> tuple[gr.Blocks, gr.Examples]:
    with gr.Blocks() as demo:
        level = naming_refusals(gr.Slider(0, 10, 5, label="Level"), "level")
        picture = vetting_uploads(gr.Image(type="filepath", image_mode=None), "test picture")
        answer = gr.Textbox()
        gr.Button().click(echo, inputs=[level, picture], outputs=answer, api_name="echo", concurrency_id="work")
        editor = gr.ImageEditor(label="Regions to paint")
        gr.Button().click(lambda regions: "read", inputs=editor, outputs=answer, api_name="edit")
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
def served(tmp_path_factory) -> Iterator[tuple[gr.Blocks, Client]]:
    """The small page, launched with one folder served through ``allowed_paths``, and a client."""
    shared = tmp_path_factory.mktemp("shared")
    (shared / "note.txt").write_text("shared")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path_factory.mktemp("examples")))
        demo, _ = build()
    port = free_port()
    demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, allowed_paths=[str(shared)]
    )
    try:
        yield demo, Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(served) -> Client:
    return served[1]


def test_gradio_calls_the_instance_preprocess_of_a_setting(client):
    assert client.predict(level=3, picture=None, api_name="/echo") == "3 False"
    with pytest.raises(AppError, match="Setting 'level': Value 11 is greater than maximum value 10"):
        client.predict(level=11, picture=None, api_name="/echo")


def truncated_png(path: Path) -> Path:
    """A 10×10 PNG of noise cut in half: its header reads, its pixels do not."""
    noise = io.BytesIO()
    Image.effect_noise((10, 10), 64).save(noise, format="PNG")
    path.write_bytes(noise.getvalue()[: len(noise.getvalue()) // 2])
    return path


def test_gradio_calls_the_instance_preprocess_of_an_image_with_the_uploads_path(client, tmp_path):
    assert client.predict(level=1, picture=handle_file(str(EXAMPLES / "cat.jpg")), api_name="/echo") == "1 True"
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(b"%PDF-1.4 not an image")
    with pytest.raises(AppError, match="The test picture is not an image that can be read"):
        client.predict(level=1, picture=handle_file(str(fake)), api_name="/echo")
    truncated = truncated_png(tmp_path / "truncated.png")
    assert client.predict(level=1, picture=handle_file(str(truncated)), api_name="/echo") == "1 True"  # not decoded
    with pytest.raises(ValueError, match="image_mode=None"):
        vetting_uploads(gr.Image(type="filepath"), "picture")  # one that Gradio would decode


def test_gradio_examples_keep_their_cached_run_in_demo_fns(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path))
    demo, examples = build()
    assert examples.cache_event is not None, "gr.Examples no longer exposes its cached run's event"
    run = demo.fns[examples.cache_event["id"]]
    assert (run.concurrency_id, run.concurrency_limit) == ("work", 1)


def fetch(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_gradio_reads_api_open_and_allowed_paths_on_each_request(served):
    demo, client = served
    root = client.src.rstrip("/")
    note = f"{root}{FILE_ROUTE}{demo.allowed_paths[0]}/note.txt"
    assert fetch(note) == 200
    serving_no_extra_paths(demo)
    assert fetch(note) == 403
    request = urllib.request.Request(
        f"{root}/gradio_api/api/echo", data=b'{"data": [1, null]}', headers={"Content-Type": "application/json"}
    )
    assert urllib.request.urlopen(request, timeout=60).status == 200  # open off a Space
    closing_extras(demo)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 404 and demo.vibe_mode is False


def test_gradio_routes_the_guard_watches_exist(client):
    """Both take POST only (the file route is used above)."""
    for route in UPLOAD_ROUTES.values():
        assert fetch(f"{client.src.rstrip('/')}{route}") == 405, route


def png(size: tuple[int, int]) -> bytes:
    data = io.BytesIO()
    Image.new("RGBA", size).save(data, format="PNG")
    return data.getvalue()


def test_gradio_editor_converts_each_picture_through_the_instance(tmp_path):
    editor = vetting_editor_images(gr.ImageEditor(type="pil"), "test picture", max_pixels=100)
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0")
    with pytest.raises(gr.Error, match="test picture is not an image"):
        editor.preprocess(EditorData(background=FileData(path=str(fake))))
    big = tmp_path / "big.png"
    big.write_bytes(png((20, 20)))
    with pytest.raises(gr.Error, match=r"20×20 pixels, more than the 0\.0001 megapixels"):
        editor.preprocess(EditorData(layers=[FileData(path=str(big))]))
    truncated = truncated_png(tmp_path / "truncated.png")
    with pytest.raises(gr.Error, match="test picture could not be decoded; the file may be truncated or corrupt"):
        editor.preprocess(EditorData(background=FileData(path=str(truncated))))


def test_gradio_editor_blobs_come_through_the_instance_and_are_popped_when_used():
    editor = gr.ImageEditor(type="pil")
    ledger = BlobLedger(BlobLimits(sets_per_session=1))
    end_session = guarding_blobs(editor, ledger, layers=3)
    assert editor.accept_blobs._is_server_fn

    def send(set_id: str, kind: str = "layer", index: str = "0") -> None:
        fields = {"type": kind, "index": index, "id": set_id, "session_hash": "s"}
        editor.accept_blobs(DataWithFiles(data=fields, files=[("layer.png", png((8, 8)))]))

    send("a")
    send("b")  # one set a session here: "a" goes
    assert set(editor.blob_storage) == {"b"}
    used = editor.preprocess(EditorData(id="b"))
    assert len(used["layers"]) == 1 and "b" not in editor.blob_storage
    with pytest.raises(Exception, match="422"):
        send("c", index="3")
    send("d", kind="background", index="null")
    end_session("s")
    assert editor.blob_storage == {}


def test_gradio_moves_a_url_input_through_the_instance():
    image = refusing_urls(gr.Image(type="filepath"))
    payload = {"path": "https://example.invalid/photo.jpg", "meta": {"_type": "gradio.FileData"}}
    with pytest.raises(gr.Error, match="does not fetch files from the web"):
        asyncio.run(async_move_files_to_cache(payload, image))


def test_gradio_state_holder_drops_sessions_only_in_update():
    demo, _ = build()
    holder = StateHolder()
    holder.set_blocks(demo)
    holder.capacity = 3
    ended = []
    sharing_sessions_fairly(holder, SessionOwners(), ended.append, per_visitor=5)
    for session, visitor in [("mine", "me"), ("x1", "them"), ("x2", "them"), ("x3", "them")]:
        token = current_visitor.set(visitor)
        holder[session]
        current_visitor.reset(token)
    assert list(holder.session_data) == ["mine", "x2", "x3"] and ended == ["x1"]


def test_one_visitor_keeps_only_their_share_of_sessions_the_latest_ones():
    demo, _ = build()
    holder = StateHolder()
    holder.set_blocks(demo)
    ended = []
    sharing_sessions_fairly(holder, SessionOwners(), ended.append, per_visitor=2)
    for session, visitor in [("theirs", "them"), ("m1", "me"), ("m2", "me"), ("m1", "me"), ("m3", "me")]:
        token = current_visitor.set(visitor)
        holder[session]
        current_visitor.reset(token)
    # m1, used again after m2, is kept; m2 is the least recently used of mine when m3 comes.
    assert list(holder.session_data) == ["theirs", "m1", "m3"] and ended == ["m2"]


def test_gradio_keeps_the_gallerys_files_in_keep_in_cache():
    with gr.Blocks() as demo:
        gallery = gr.Gallery([str(EXAMPLES / "cat.jpg")])
    kept = kept_for_the_page(demo)
    assert gallery.value and any(path.endswith("cat.jpg") for path in kept)


def event_index(client: Client, api_name: str) -> int:
    return next(event["id"] for event in client.config["dependencies"] if event["api_name"] == api_name)


def test_gradio_checks_an_events_raw_values_through_the_instance(served):
    demo, client = served
    checking_inputs(demo)
    echo_event, edit_event = event_index(client, "echo"), event_index(client, "edit")
    with pytest.raises(AppError, match="The request sent 1 values, and /echo takes 2"):
        raw_queue_call(client.src, echo_event, [1])
    malformed = "The input 'Regions to paint' was sent in a form it does not take: "
    with pytest.raises(AppError, match=malformed + "layers: Input should be a valid list"):
        raw_queue_call(client.src, edit_event, [{"background": None, "layers": "not a list", "composite": None}])
    layer = {"path": "layer.png", "meta": {"_type": "gradio.FileData"}}
    with pytest.raises(AppError, match=re.escape(malformed + "layers[1]: ")):
        raw_queue_call(client.src, edit_event, [{"layers": [layer, None]}])
    assert raw_queue_call(client.src, edit_event, [None]) == ["read"]
    assert raw_queue_call(client.src, echo_event, [2, None, "extra"]) == ["2 False"]  # extra values: ignored


def test_gradio_queue_joins_and_answers_every_event_through_the_instance(monkeypatch):
    """What the fair queue (``limiting_jobs``) relies on, on a small page with one event in the queue "work"."""
    monkeypatch.setenv(TRUSTED_PROXIES_ENV, "127.0.0.1")
    release = threading.Event()

    def hold(text: str) -> str:
        release.wait(HANG_GUARD)
        return text

    def refuse() -> None:
        raise gr.Error("Refused by the test.", print_exception=False)

    with gr.Blocks() as demo:
        box = gr.Textbox()
        gr.Button().click(hold, box, box, api_name="hold", concurrency_id="work", concurrency_limit=1)
        gr.Button().click(str.upper, box, box, api_name="other")
    demo.queue()
    with demo:
        refused = gr.api(refuse, api_name="refused", api_visibility="private", concurrency_limit=None)
    asked: list[tuple[str, list[str]]] = []

    def admits(visitor: str, holders: list[str]) -> bool:
        asked.append((visitor, sorted(holders)))
        return visitor not in holders

    limiting_jobs(demo, "work", admits, refused)
    answers, send = [], demo._queue.send_message

    def send_message(event, message) -> None:
        answers.append((event.concurrency_id, getattr(message, "msg", None)))
        send(event, message)

    demo._queue.send_message = send_message
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        first, second, third = (visitor_client(url, index) for index in (1, 2, 3))
        running = first.submit("a", api_name="/hold")
        wait_until(lambda: any(demo._queue.active_jobs), "the first event to run")
        (event,) = next(job for job in demo._queue.active_jobs if job)
        assert event.concurrency_id == "work" and event._id and event.request.client.host
        waiting = second.submit("b", api_name="/hold")
        work = demo._queue.event_queue_per_concurrency_id["work"]
        wait_until(lambda: len(work.queue) == 1, "the second visitor's event to wait")
        for client in (first, second):  # a running event counts, and so does a waiting one
            with pytest.raises(AppError, match="Refused by the test"):
                client.submit("again", api_name="/hold").result(timeout=HANG_GUARD)
        burst = [third.submit(f"c{n}", api_name="/hold") for n in range(4)]  # joining at once: one gets in
        wait_until(lambda: sum(job.done() for job in burst) == 3, "three of the burst to be refused")
        assert first.predict("x", api_name="/other") == "X"  # another queue: not asked
        release.set()
        assert (running.result(timeout=HANG_GUARD), waiting.result(timeout=HANG_GUARD)) == ("a", "b")
        assert sorted(job.result(timeout=HANG_GUARD) for job in burst if job.exception() is None)[0].startswith("c")
        assert sum(job.exception() is None for job in burst) == 1
    finally:
        release.set()
        demo.close()
    visitors = [address for address, _ in asked]
    assert visitors[:2] == ["198.51.100.1", "198.51.100.2"] and len(asked) == 8
    assert asked[1][1] == ["198.51.100.1"] and asked[3][1] == ["198.51.100.1", "198.51.100.2"]
    assert answers.count(("work", "process_completed")) >= 3  # each result sent through the instance


def test_gradio_keeps_each_queued_events_files_in_its_data():
    release = threading.Event()

    def hold(picture: str) -> str:
        release.wait(HANG_GUARD)
        return "held"

    with gr.Blocks() as demo:
        picture, answer = gr.Image(type="filepath", image_mode=None), gr.Textbox()
        gr.Button().click(hold, picture, answer, api_name="hold", concurrency_limit=1)
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        names = ("cat.jpg", "coffee.jpg")
        jobs = [client.submit(handle_file(str(EXAMPLES / name)), api_name="/hold") for name in names]
        wait_until(lambda: len(files_in_queue(demo)) == 2, "one running and one waiting event's file")
        assert {Path(path).name for path in files_in_queue(demo)} == set(names)
        release.set()
        assert [job.result(timeout=HANG_GUARD) for job in jobs] == ["held", "held"]
        wait_until(lambda: not files_in_queue(demo), "the events to leave the queue")
    finally:
        release.set()
        demo.close()


def test_a_session_with_a_job_in_the_queue_is_kept_beyond_the_visitors_share():
    demo, _ = build()
    holder = StateHolder()
    holder.set_blocks(demo)
    ended = []
    sharing_sessions_fairly(holder, SessionOwners(), ended.append, per_visitor=1, busy=lambda: {"running"})
    for session in ("running", "m1", "m2"):
        token = current_visitor.set("me")
        holder[session]
        current_visitor.reset(token)
    assert list(holder.session_data) == ["running", "m2"] and ended == ["m1"]
    with pytest.raises(ValueError, match="at least one session"):
        sharing_sessions_fairly(holder, SessionOwners(), ended.append, per_visitor=0)
