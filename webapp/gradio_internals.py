"""Every use of Gradio's internals in the app, in one place, each saying what it relies on.

The rest of ``webapp`` uses only Gradio's documented API. Two functions here
replace one widget instance's ``preprocess``: Gradio's server-side conversion of
what the browser or an API client sent, which it calls on the component instance
for each event, before any callback runs.

* :func:`naming_refusals`: Gradio checks a slider's or a dropdown's value before
  any callback, whatever the browser allowed, but its messages do not say which
  setting was wrong ("Value 5000 is greater than maximum value 2048."), and a
  value of the wrong type ends in an unexplained error.
* :func:`vetting_uploads`: Gradio's image input opens every upload with PIL, so a
  PDF renamed ``photo.jpg`` fails there with no message at all.

They wrap the instance rather than subclass: Gradio's component metaclass writes
stub files next to the module of every subclass.

* :func:`share_queue`: ``gr.Examples`` takes no concurrency settings, so its
  cached runs are put in the Stylize event's queue through the event's entry in
  ``demo.fns``.

For a public link (see the README's Security section):

* :func:`vetting_editor_images` and :func:`guarding_blobs`: the region editor's
  pictures are opened by Gradio with PIL, whatever their format or size, and its
  blob endpoint (``accept_blobs``) stores what any client sends under any index.
* :func:`refusing_urls`: Gradio downloads a file input given as a URL before any
  callback runs.
* :func:`sharing_sessions_fairly`: Gradio drops the least recently used session when
  there are too many, whoever opened the others, and lets one visitor hold any number.
* :func:`limiting_jobs`: Gradio's queue takes any number of jobs from one visitor (the
  fair queue of :mod:`webapp.fair_queue`).
* :func:`checking_inputs`: a request with too few values, or a value of the wrong
  shape for its component (an editor's ``layers`` that is not a list of files), fails
  in Gradio with no message for the client.
* :func:`closing_extras`: vibe mode follows ``GRADIO_VIBE_MODE`` with no launch
  setting, the REST routes skip the queue off a Space, and ``GRADIO_ALLOWED_PATHS``
  widens the files served.
* :func:`kept_for_the_page`, :func:`files_in_queue` and :data:`UPLOAD_ROUTES`: what
  the upload folder's sweeper spares (the page's own files, and those of the jobs still
  waiting or running, however long they wait), and the routes
  :mod:`webapp.request_guard` watches.

``tests/test_gradio_internals.py`` fails by name if a Gradio upgrade removes any of these.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr
from fastapi import HTTPException
from gradio.state_holder import StateHolder
from pydantic import ValidationError

from styletransfer import ImageError, open_image

from .blobs import BlobLedger, BlobRefused
from .visitors import SessionOwners, current_visitor, visitor_of

Widget = TypeVar("Widget", bound=gr.components.Component)
#: The longest echo of a client's value in a message, in characters.
ECHO = 80
#: The file route, and the two routes that take multipart bodies (files): paths under the server's root.
FILE_ROUTE = "/gradio_api/file="
UPLOAD_ROUTES = {"upload": "/gradio_api/upload", "component_server": "/gradio_api/component_server"}


def echo(value: Any) -> str:
    """``value``'s ``repr`` for a message, cut to :data:`ECHO` characters."""
    return _cut(repr(value))


def _cut(text: str) -> str:
    return text if len(text) <= ECHO else f"{text[: ECHO - 1]}…"


def naming_refusals(widget: Widget, setting: str) -> Widget:
    """Make ``widget`` name ``setting`` when it refuses a value (out of range, not a choice, not a number).

    Values are echoed at most :data:`ECHO` characters long. Returns ``widget``, for use where it is made. Relies
    on: Gradio calling ``widget.preprocess`` (looked up on the instance) on every event's input, and raising
    ``gr.Error`` from it for a value out of range, its message quoting the value.
    """
    check = widget.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return check(payload)
        except gr.Error as error:
            message = error.message.replace(str(payload), _cut(str(payload)))
            raise gr.Error(f"Setting {setting!r}: {message}", title="Setting out of range") from None
        except (TypeError, ValueError):
            raise gr.Error(
                f"Setting {setting!r} must be a number; got {echo(payload)}.", title="Setting out of range"
            ) from None

    widget.preprocess = preprocess  # type: ignore[method-assign]
    return widget


def vetting_uploads(widget: gr.Image, what: str) -> gr.Image:
    """Make ``widget`` check each upload's header before Gradio opens it.

    Files that are not images and decompression bombs are refused with the
    engine's own message naming ``what`` ("content image", …); anything that
    passes, such as a truncated file, is left to the engine, which decodes the file
    later and says what is wrong with it. So that Gradio never decodes it first, ``widget`` must hand the file on
    as it came (``type="filepath"``, ``image_mode=None``; ``ValueError`` otherwise). Returns ``widget``. Relies on:
    Gradio calling ``widget.preprocess`` (looked up on the instance) with a ``FileData`` whose ``path`` is the upload
    on the server's disk, and returning that path untouched for such a widget.
    """
    if widget.type != "filepath" or widget.image_mode is not None:
        raise ValueError(f"The {what} widget must have type='filepath' and image_mode=None: Gradio decodes others.")
    convert = widget.preprocess

    def preprocess(payload: Any) -> Any:
        if payload is not None and payload.path:
            try:
                open_image(payload.path, name=what).close()
            except ImageError as error:
                raise gr.Error(str(error), title="Cannot use this file") from None
        return convert(payload)

    widget.preprocess = preprocess  # type: ignore[method-assign]
    return widget


def share_queue(demo: gr.Blocks, examples: gr.Examples, concurrency_id: str, limit: int = 1) -> None:
    """Put the examples' (lazily cached) runs in the queue ``concurrency_id``, ``limit`` at a time (Gradio holds a
    queue to the lowest limit of its events).

    Relies on: ``examples.cache_event`` being the cached run's event (a dict with its ``id``), and ``demo.fns``
    mapping that id to a ``BlockFunction`` whose ``concurrency_id`` and ``concurrency_limit`` the queue reads.
    """
    if examples.cache_event is not None:
        run = demo.fns[examples.cache_event["id"]]
        run.concurrency_id, run.concurrency_limit = concurrency_id, limit


def vetting_editor_images(editor: gr.ImageEditor, what: str, max_pixels: int) -> gr.ImageEditor:
    """Make ``editor`` check each picture it is sent (background, layers, composite) from its header, as uploads
    are, before Gradio decodes it: formats other than the engine's and pictures over ``max_pixels`` are refused
    with a message naming ``what``, and so are pictures Gradio then fails to decode. Returns ``editor``. Relies
    on: Gradio's ``ImageEditor.preprocess`` converting each picture through ``editor.convert_and_format_image``
    (looked up on the instance), given a ``FileData`` (with its ``path``) or the bytes of a blob."""
    convert = editor.convert_and_format_image

    def convert_and_format_image(file: Any, flatten_on_white: bool = False) -> Any:
        if file is not None:
            source = file.path if hasattr(file, "path") else bytes(file)
            try:
                open_image(source, name=what, max_pixels=max_pixels).close()
            except ImageError as error:
                raise gr.Error(str(error), title="Cannot use this picture") from None
        try:
            return convert(file, flatten_on_white)
        except (OSError, SyntaxError, ValueError) as error:  # decoding it: a truncated or corrupt file
            message = f"The {what} could not be decoded; the file may be truncated or corrupt ({_cut(str(error))})."
            raise gr.Error(message, title="Cannot use this picture") from None

    editor.convert_and_format_image = convert_and_format_image  # type: ignore[method-assign]
    return editor


def guarding_blobs(editor: gr.ImageEditor, ledger: BlobLedger, layers: int) -> Callable[[str], None]:
    """Hold ``editor``'s blob endpoint to ``ledger``'s limits and to its ``layers`` layers; the function that drops
    a session's blobs when it ends.

    A blob of another kind than background, composite or one of the layers, or not one file, is refused with
    HTTP 422; one the ledger refuses, with 413. Relies on: Gradio's component server calling
    ``editor.accept_blobs`` (looked up on the instance, marked ``_is_server_fn``) with a ``DataWithFiles`` whose
    ``data`` holds the form's fields (``type``, ``index``, ``id``, ``session_hash``) and ``files`` the blob; and on
    ``editor.blob_storage``, a dict of the sets by id, from which Gradio's ``preprocess`` pops a set it uses.
    """
    accept = editor.accept_blobs
    lock = threading.Lock()

    def accept_blobs(data: Any) -> Any:
        fields, files = data.data, data.files
        kind, index = fields.get("type"), fields.get("index")
        layer = kind == "layer" and str(index).isdigit() and int(index) < layers
        other = kind in ("background", "composite") and index in (None, "", "null")
        if not (layer or other) or len(files) != 1 or not fields.get("id"):
            raise HTTPException(422, "Not one of the editor's pictures.")
        with lock:
            ledger.keep_only(editor.blob_storage)
            try:
                drop = ledger.admit(
                    fields["id"], str(fields.get("session_hash")), current_visitor.get(), len(files[0][1])
                )
            except BlobRefused as refused:
                raise HTTPException(413, str(refused)) from None
            for set_id in drop:
                editor.blob_storage.pop(set_id, None)
            return accept(data)

    def end_session(session: str) -> None:
        with lock:
            for set_id in ledger.end_session(session):
                editor.blob_storage.pop(set_id, None)

    accept_blobs._is_server_fn = True  # type: ignore[attr-defined]
    editor.accept_blobs = accept_blobs  # type: ignore[method-assign]
    return end_session


def refusing_urls(widget: Widget) -> Widget:
    """Make ``widget`` refuse a file given as a URL, with a message, instead of Gradio downloading it on the server.

    Returns ``widget``. Relies on: Gradio moving every file of an event's input into the component's cache through
    ``widget.async_move_resource_to_block_cache`` (looked up on the instance), given the URL itself.
    """
    move = widget.async_move_resource_to_block_cache

    async def async_move_resource_to_block_cache(url_or_file_path: Any) -> str | None:
        if url_or_file_path is not None and "://" in str(url_or_file_path):
            raise gr.Error(
                "This server does not fetch files from the web: please upload the file itself.",
                title="Cannot use a web address",
            )
        return await move(url_or_file_path)

    widget.async_move_resource_to_block_cache = async_move_resource_to_block_cache  # type: ignore[method-assign]
    return widget


def sharing_sessions_fairly(
    holder: StateHolder,
    owners: SessionOwners,
    ended: Callable[[str], None],
    per_visitor: int,
    busy: Callable[[], set[str]] = set,
) -> None:
    """Make ``holder`` (Gradio's sessions) record each session's visitor (:data:`~webapp.visitors.current_visitor`
    when it is opened, which is when its first event joins the queue), keep at most ``per_visitor`` sessions of
    any one visitor (looked at as each new session opens: their least recently used go first, but never one that
    ``busy`` names: a session with a job waiting or running keeps the job's state) and, when there are more
    sessions than its capacity, drop the one ``owners`` picks; then call ``ended`` with the id of each session
    dropped.

    Relies on: ``StateHolder.__getitem__`` making a session it does not have and calling ``holder.update`` (looked
    up on the instance) with its id, and ``update`` alone dropping sessions, from ``session_data`` (an
    ``OrderedDict``, least recently used first) and ``time_last_used``, under ``holder.lock``, beyond
    ``holder.capacity``.
    """

    if per_visitor < 1:
        raise ValueError(f"A visitor must keep at least one session, not {per_visitor}.")

    def update(session: str) -> None:
        dropped: list[str] = []
        with holder.lock:
            if session in holder.session_data:
                holder.session_data.move_to_end(session)
                opened = owners.note(session, current_visitor.get())
                over = opened and owners.beyond_share(holder.session_data, owners.owner(session), per_visitor)
                if over:
                    in_queue = busy()
                    dropped.extend(drop for drop in over if drop not in in_queue)
            while len(holder.session_data) - len(dropped) > holder.capacity:
                dropped.append(owners.to_drop(s for s in holder.session_data if s not in dropped))
            for drop in dropped:
                del holder.session_data[drop]
                holder.time_last_used.pop(drop, None)
                owners.forget(drop)
        for drop in dropped:
            ended(drop)

    holder.update = update  # type: ignore[method-assign]


def closing_extras(demo: gr.Blocks) -> None:
    """Turn off, on ``demo``, what its environment could turn on: vibe mode (``GRADIO_VIBE_MODE``) and the REST
    routes that skip the queue (open by default off a Space). Relies on: ``demo.vibe_mode`` and ``demo.api_open``,
    read by Gradio's routes on each request."""
    demo.vibe_mode = False
    demo.api_open = False


def serving_no_extra_paths(demo: gr.Blocks) -> None:
    """Serve no folder that ``GRADIO_ALLOWED_PATHS`` named: call it once the server has started. Relies on:
    ``demo.allowed_paths``, set from the environment by ``launch`` and read by the file route on each request."""
    demo.allowed_paths = []


def kept_for_the_page(demo: gr.Blocks) -> set[str]:
    """The files in Gradio's cache that the page itself shows (its gallery, its examples), never to be swept.
    Relies on: each block's ``keep_in_cache``, the set Gradio's own ``delete_cache`` spares."""
    return set().union(*(getattr(block, "keep_in_cache", set()) for block in demo.blocks.values()))


def files_in_queue(demo: gr.Blocks) -> set[str]:
    """The files (paths on the server) that the events waiting or running in ``demo``'s queue were sent with: a job
    that waits longer than files are kept still needs its uploads when it starts. Relies on: waiting events in
    ``demo._queue.event_queue_per_concurrency_id[…].queue`` and running ones in ``active_jobs`` (lists of events or
    ``None``), each ``Event`` with its request's values as sent in ``data.data``, a file as a dict with its
    ``path``."""
    paths: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("path"), str):
                paths.add(value["path"])
            for part in value.values():
                collect(part)
        elif isinstance(value, list):
            for part in value:
                collect(part)

    for event in _queued_events(demo):
        collect(getattr(event.data, "data", None))
    return paths


def sessions_in_queue(demo: gr.Blocks) -> set[str]:
    """The sessions with an event waiting or running in ``demo``'s queue (each ``Event``'s ``session_hash``; see
    :func:`files_in_queue` for what it relies on)."""
    return {event.session_hash for event in _queued_events(demo) if event.session_hash}


def _queued_events(demo: gr.Blocks) -> list[Any]:
    queue = demo._queue
    events = [event for waiting in list(queue.event_queue_per_concurrency_id.values()) for event in list(waiting.queue)]
    return events + [event for job in list(queue.active_jobs) if job for event in job]


def limiting_jobs(
    demo: gr.Blocks, concurrency_id: str, admits: Callable[[str, list[str]], bool], refusal: dict[str, Any]
) -> None:
    """Ask ``admits`` whether each event that joins ``demo``'s queue ``concurrency_id`` may: it is given the
    event's visitor and the visitor of each event of that queue, waiting or running; one it refuses runs the event
    ``refusal`` (a private one that raises the refusal's ``gr.Error``) with no inputs instead, at once, so that the
    page and API clients get its message as they get any other.

    An event counts until its result is sent (not until Gradio has tidied up after it), so that a client may queue
    its next job as soon as it has the last one's result.

    Relies on: ``demo._queue.push(body, request, username)`` (looked up on the instance) adding every event, the
    visitor's ``fastapi.Request`` and the event's id in ``body.fn_index``, its inputs in ``body.data``, before any
    other await; waiting events in ``event_queue_per_concurrency_id[id].queue`` and running ones in ``active_jobs``
    (lists of events or ``None``), each ``Event`` with its ``_id``, ``concurrency_id`` and ``request``; every message
    to a client going through ``demo._queue.send_message(event, message)`` (looked up on the instance), the result
    with ``msg`` ``"process_completed"``; ``refusal["id"]`` being the refusal event's index in ``demo.fns``.
    """
    queue = demo._queue
    push, send = queue.push, queue.send_message
    joining = asyncio.Lock()
    answered: set[str] = set()  # events whose result has been sent, while Gradio still holds them

    def visitor(request: Any) -> str:
        return visitor_of(request.client.host if request.client else None, request.headers.get("x-forwarded-for"))

    def holders() -> list[str]:
        waiting = queue.event_queue_per_concurrency_id.get(concurrency_id)
        events = list(waiting.queue) if waiting is not None else []
        events += [event for job in queue.active_jobs if job for event in job if event.concurrency_id == concurrency_id]
        answered.intersection_update(event._id for event in events)
        return [visitor(event.request) for event in events if event._id not in answered]

    def send_message(event: Any, message: Any) -> None:
        if getattr(message, "msg", None) == "process_completed" and event.concurrency_id == concurrency_id:
            answered.add(event._id)
        send(event, message)

    async def fair_push(body: Any, request: Any, username: str | None) -> Any:
        fn = demo.fns.get(body.fn_index) if body.fn_index is not None else None
        if fn is None or fn.concurrency_id != concurrency_id:
            return await push(body=body, request=request, username=username)
        async with joining:  # no second event of the same visitor slips in between the count and the push
            if not admits(visitor(request), holders()):
                body.fn_index, body.data = refusal["id"], []
            return await push(body=body, request=request, username=username)

    queue.push = fair_push  # type: ignore[method-assign]
    queue.send_message = send_message  # type: ignore[method-assign]


def checking_inputs(demo: gr.Blocks) -> None:
    """Make ``demo`` refuse, with a message, a request that sends too few values for its event, or a value that its
    component's data model does not take (a file that is not a file's description, an editor's ``layers`` that is
    not a list): the message names the endpoint and the count, or the input (by its label) and the part that is
    wrong. Extra values stay ignored, as Gradio ignores them.

    Relies on: Gradio calling ``demo.validate_inputs(block_fn, inputs)`` (looked up on the instance) with an event's
    ``BlockFunction`` and its raw values before it moves, validates or preprocesses any of them, and on each
    stateless input component's ``data_model`` being the pydantic model Gradio validates its value with (with the
    context ``{"validate_meta": True}``), except the inputs that are a component's properties
    (``block_fn.component_prop_inputs``)."""
    validate = demo.validate_inputs

    def validate_inputs(block_fn: Any, inputs: list[Any]) -> None:
        if len(inputs) < len(block_fn.inputs):
            endpoint = f"/{block_fn.api_name}" if block_fn.api_name else "this event"
            raise gr.Error(
                f"The request sent {len(inputs)} values, and {endpoint} takes {len(block_fn.inputs)}: one for each "
                "of its parameters, in order (gradio_client fills in the ones left out).",
                title="Parameters missing",
            )
        for index, block in enumerate(block_fn.inputs):
            model = getattr(block, "data_model", None)
            if model is None or block.stateful or index in block_fn.component_prop_inputs or inputs[index] is None:
                continue
            try:
                model.model_validate(inputs[index], context={"validate_meta": True})
            except ValidationError as error:
                raise gr.Error(_malformed(block, error), title="Cannot read this input") from None
        validate(block_fn, inputs)

    demo.validate_inputs = validate_inputs  # type: ignore[method-assign]


def _malformed(block: Any, error: ValidationError) -> str:
    """The message for ``block``'s value that its data model refused with ``error``: its first problem."""
    first = error.errors()[0]
    part = "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in first["loc"]).lstrip(".")
    problem = first["msg"].removeprefix("Value error, ")[:160]  # pydantic's words, which quote no value
    name = getattr(block, "label", None) or block.get_block_name()
    return f"The input {name!r} was sent in a form it does not take: {part or 'its value'}: {problem}"
