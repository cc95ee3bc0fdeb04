"""Make the page's inputs refuse bad values with messages that say what was refused.

Gradio checks a slider's or a dropdown's value on the server before any callback
runs, whatever the browser allowed, but its messages do not say which setting was
wrong ("Value 5000 is greater than maximum value 2048."), and a value of the wrong
type ends in an unexplained error. Its image input opens every upload with PIL,
so a PDF renamed ``photo.jpg`` fails there with no message at all.

The functions here wrap one widget's ``preprocess`` (Gradio's server-side
conversion of what the browser or an API client sent) and keep Gradio's checks and
front end. They wrap the instance rather than subclass: Gradio's component
metaclass writes stub files next to the module of every subclass.
"""

from __future__ import annotations

from typing import Any, TypeVar

import gradio as gr

from styletransfer.images import ImageError, open_image

Widget = TypeVar("Widget", bound=gr.components.Component)


def naming_refusals(widget: Widget, setting: str) -> Widget:
    """Make ``widget`` name ``setting`` when it refuses a value (out of range, not a choice, not a number).

    Returns ``widget``, for use where it is made.
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
    later and says what is wrong with it. Returns ``widget``.
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
