"""The Regions panel: paint on the photo where each style goes and what stays a photo, or give mask files.

The editor shows the content photo with one layer per style and one for "keep the
photo"; a preview tints the photo with each painted layer. The same regions can
come as plain mask images (the ``/stylize`` API's ``mask``, ``second_mask`` and
``keep_mask``), for clients that have no editor. See :mod:`webapp.masks`.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from PIL import Image

from styletransfer import ImageError, load_image

from .gradio_internals import vetting_editor_images, vetting_uploads
from .masks import COLOURS, LAYERS, preview

#: The editor's brush colours, one per layer (any colour paints the layer it is used on).
BRUSH_COLOURS = ["#{:02x}{:02x}{:02x}".format(*colour) for colour in COLOURS]
#: The longest side of the photo shown in the editor and the preview.
EDITOR_SIDE = 768
#: The most pixels a picture sent to the editor may have: the page sends the photo at :data:`EDITOR_SIDE`, and
#: regions at a photo's full size go through the mask uploads. Checked from the header, before decoding.
EDITOR_MAX_PIXELS = 4_000_000
#: The editor's events share a queue of their own, a few at a time, away from the device's.
EDITOR_QUEUE = {"concurrency_id": "editor", "concurrency_limit": 2, "show_progress": "hidden"}

HELP = """
Paint on the photo with the layer of the region you mean (the layer menu is at the bottom of the editor):
**First style**, **Second style** (when there is one), **Keep the photo**. Painting nothing styles the whole
photo. With two styles and only one of them painted, the other style paints the rest. Edges are softened
(*Soft edge between regions* in Advanced). Instead of painting you may upload masks below (white = the region).
"""


def region_widgets(content: gr.Image) -> dict[str, gr.components.Component]:
    """The panel's inputs by the Stylize callback's keyword (``regions``, ``mask``, ``second_mask``,
    ``keep_mask``); the editor follows the photo in ``content``."""
    gr.Markdown(HELP)
    with gr.Row():
        editor = vetting_editor_images(
            gr.ImageEditor(
                type="pil",
                image_mode="RGBA",
                sources=[],
                transforms=[],
                layers=gr.LayerOptions(allow_additional_layers=False, layers=list(LAYERS)),
                brush=gr.Brush(colors=BRUSH_COLOURS, default_color=BRUSH_COLOURS[0], default_size="auto"),
                label="Paint the regions on your photo",
                height=420,
                elem_id="regions",
            ),
            "regions picture",
            EDITOR_MAX_PIXELS,
        )
        shown = gr.Image(label="The regions over the photo", interactive=False, height=420, elem_id="regions-preview")
    with gr.Accordion("…or upload masks (white = the region)", open=False, elem_id="mask-files"), gr.Row():
        files = {
            name: vetting_uploads(
                gr.Image(
                    label=label,
                    type="filepath",
                    image_mode=None,  # as it came: the engine counts a transparent mask's opaque part
                    sources=["upload"],
                    height=160,
                    elem_id=name.replace("_", "-"),
                ),
                what,
            )
            for name, label, what in [
                ("mask", "Mask of the first style", "mask"),
                ("second_mask", "Mask of the second style", "second mask"),
                ("keep_mask", "Keep the photo here", "keep-photo mask"),
            ]
        }
    # Not preprocessed: the photo's upload check would show its message here too, beside the Stylize button's.
    content.change(
        photo_in_editor, inputs=content, outputs=editor, preprocess=False, api_visibility="private", **EDITOR_QUEUE
    )
    editor.change(regions_preview, inputs=editor, outputs=shown, api_visibility="private", **EDITOR_QUEUE)
    return {"regions": editor, **files}


def photo_in_editor(content: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """The editor's value for a new photo (its path, or the upload as Gradio sends it, with its ``path``): the
    photo as the background, no paint."""
    photo = _photo(content)
    return None if photo is None else {"background": photo, "layers": [], "composite": photo}


def regions_preview(editor: dict[str, Any] | None) -> Image.Image | None:
    """The editor's photo, at most :data:`EDITOR_SIDE` long, tinted with each painted layer's colour."""
    background = (editor or {}).get("background")
    if not isinstance(background, Image.Image):
        return None
    if max(background.size) > EDITOR_SIDE:
        background = background.copy()
        background.thumbnail((EDITOR_SIDE, EDITOR_SIDE))
    return preview(background, editor)


def _photo(content: str | dict[str, Any] | None) -> Image.Image | None:
    path = content.get("path") if isinstance(content, dict) else content
    if path is None:
        return None
    try:
        return load_image(path, max_side=EDITOR_SIDE, name="content image")
    except ImageError:
        return None  # the Stylize button says what is wrong with it
