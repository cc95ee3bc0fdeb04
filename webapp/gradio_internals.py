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
  ``demo.fns``. ``tests/test_gradio_internals.py``
fails by name if a Gradio upgrade stops calling the instance's ``preprocess``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import gradio as gr

from styletransfer import ImageError, open_image

Widget = TypeVar("Widget", bound=gr.components.Component)


def naming_refusals(widget: Widget, setting: str) -> Widget:
    """Make ``widget`` name ``setting`` when it refuses a value (out of range, not a choice, not a number).

    Returns ``widget``, for use where it is made. Relies on: Gradio calling ``widget.preprocess`` (looked up on
    the instance) on every event's input, and raising ``gr.Error`` from it for a value out of range.
    """
    check = widget.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return check(payload)
        except gr.Error as error:
            raise gr.Error(f"Setting {setting!r}: {error.message}", title="Setting out of range") from None
        except (TypeError, ValueError):
            raise gr.Error(
                f"Setting {setting!r} must be a number; got {payload!r}.", title="Setting out of range"
            ) from None

    widget.preprocess = preprocess  # type: ignore[method-assign]
    return widget


def vetting_uploads(widget: gr.Image, what: str) -> gr.Image:
    """Make ``widget`` check each upload's header before Gradio opens it.

    Files that are not images and decompression bombs are refused with the
    engine's own message naming ``what`` ("content image", …); anything that
    passes, such as a truncated file, is left to the engine, which decodes the file
    later and says what is wrong with it. Returns ``widget``. Relies on: Gradio calling ``widget.preprocess``
    (looked up on the instance) with a ``FileData`` whose ``path`` is the upload on the server's disk.
    """
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


def share_queue(demo: gr.Blocks, examples: gr.Examples, concurrency_id: str) -> None:
    """Put the examples' (lazily cached) runs in the queue ``concurrency_id``, one at a time.

    Relies on: ``examples.cache_event`` being the cached run's event (a dict with its ``id``), and ``demo.fns``
    mapping that id to a ``BlockFunction`` whose ``concurrency_id`` and ``concurrency_limit`` the queue reads.
    """
    if examples.cache_event is not None:
        run = demo.fns[examples.cache_event["id"]]
        run.concurrency_id, run.concurrency_limit = concurrency_id, 1
