"""The page: widgets, their layout, the events that join them to a :class:`~webapp.jobs.Studio`, and the queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from styletransfer import StyleConfig

from . import accessibility, panel, phone
from .fair_queue import share_fairly
from .fitting import FittedDefaults
from .gradio_internals import share_queue, vetting_uploads
from .job import Job
from .jobs import Studio
from .options import CPU_DEFAULTS, GPU_DEFAULTS, PAGE_EXTRAS, Bounds
from .panel import option_widget
from .regions_panel import region_widgets
from .render import hardware_line
from .video_jobs import VideoStudio
from .video_panel import video_tab

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: The style gallery: public-domain paintings, then the generated styles, as (file under examples/, caption).
STYLE_GALLERY = [
    ("paintings/starry_night_van_gogh_1889.jpg", "Van Gogh, The Starry Night (1889)"),
    ("paintings/great_wave_off_kanagawa_hokusai_1831.jpg", "Hokusai, The Great Wave off Kanagawa (c. 1831)"),
    ("paintings/the_scream_munch_1893.jpg", "Munch, The Scream (1893)"),
    ("paintings/composition_vii_kandinsky_1913.jpg", "Kandinsky, Composition VII (1913)"),
    ("paintings/water_lilies_monet_1919.jpg", "Monet, Water Lilies (1919)"),
    ("paintings/starry_night_over_the_rhone_van_gogh_1888.jpg", "Van Gogh, Starry Night Over the Rhône (1888)"),
    ("paintings/wheat_field_with_cypresses_van_gogh_1889.jpg", "Van Gogh, Wheat Field with Cypresses (1889)"),
    ("style_swirls.jpg", "Generated: swirls"),
    ("style_mosaic.jpg", "Generated: mosaic"),
    ("style_ink.jpg", "Generated: ink"),
]
#: (content, style) pairs shown as clickable examples: the example photos with real paintings.
EXAMPLE_PAIRS = [
    ("cat.jpg", "paintings/starry_night_van_gogh_1889.jpg"),
    ("coffee.jpg", "paintings/great_wave_off_kanagawa_hokusai_1831.jpg"),
    ("astronaut.jpg", "paintings/the_scream_munch_1893.jpg"),
    ("rocket.jpg", "paintings/composition_vii_kandinsky_1913.jpg"),
]
#: The queue of everything that runs on the device: the Stylize event and the example runs. It orders the jobs
#: and shows each its place; the studio's device lock is what keeps two of them from overlapping there.
DEVICE_QUEUE = "device"
#: Jobs that may wait for the device; beyond this, Gradio tells new users the app is busy.
QUEUE_SIZE = 16

THEME = accessibility.THEME
CSS = (
    accessibility.CSS
    + phone.CSS
    + """
.gradio-container { max-width: min(1280px, 100%) !important; margin: 0 auto; }
#status { min-height: 5.5em; padding: 0.6em 0.9em; border-radius: var(--radius-lg);
          border: 1px solid var(--border-color-primary); background: var(--block-background-fill); }
#notice { border-left: 4px solid var(--color-accent); padding-left: 0.75em; }
"""
)
#: What :meth:`gr.Blocks.launch` needs to draw the page as designed.
LAUNCH_STYLE: dict[str, Any] = {
    "theme": THEME,
    "css": CSS,
    "head": accessibility.head({Path(name).name: caption for name, caption in STYLE_GALLERY}) + phone.head(),
}

INTRO = """
# Neural style transfer
Repaint a photo in the style of a painting, live: the method of Gatys, Ecker and Bethge (2015).
Drop a **photo** and a **painting** (or pick one from the style gallery, or click an example), press **Stylize**
and watch the picture change.
Stop whenever you like, tweak the *Advanced* settings and run again.
"""

HOW_IT_WORKS = """
A network trained to recognise objects (VGG19) describes any picture at several depths: its deep layers
record *what is where* (the **content**), and the correlations between its feature channels record textures,
colours and strokes wherever they are (the **style**). Starting from your photo, an optimiser changes the pixels
until the picture keeps the photo's content while matching the painting's feature correlations.

The work is done coarse to fine (*multi-scale*): a small version first, then larger ones, which gives bigger,
more coherent strokes for the same time. *Style strength* trades style against faithfulness to the photo;
*style scale* sets the size of the brush strokes; *colour* keeps the photo's colours.
"""


def build_demo(studio: Studio, *, queue_size: int = QUEUE_SIZE) -> gr.Blocks:
    """The whole page, wired to ``studio``, with its queue set up."""
    # No delete_cache: the upload folder's sweeper (webapp.hardening) ages the files out, sparing those of the jobs
    # still in the queue, which Gradio's own clean-up would remove.
    with gr.Blocks(title="Neural style transfer", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        if studio.notice:
            gr.Markdown(f"**Note:** {studio.notice}", elem_id="notice")
        with gr.Tab("Photo", id="photo", elem_id="photo-tab"):
            job = gr.State(Job())  # each session gets its own copy
            with gr.Row(equal_height=False):
                with gr.Column(min_width=320):
                    content, style, second_style, blend = _image_inputs(studio.bounds)
                    gallery = style_gallery()
                    with gr.Row():
                        run_button = gr.Button("Stylize", variant="primary", elem_id="stylize", scale=2)
                        stop_button = gr.Button("Stop", variant="stop", elem_id="stop", scale=1)
                    examples_slot = gr.Column()
                    with gr.Accordion("Advanced", open=False, elem_id="advanced"):
                        options = option_widgets(studio)
                with gr.Column(min_width=320, elem_id="results-column"):
                    results = _result_widgets(studio)
            with gr.Accordion("Regions (optional): paint where each style goes", open=False, elem_id="regions-panel"):
                regions = region_widgets(content)
            with gr.Accordion("How it works", open=False, elem_id="how-it-works"):
                gr.Markdown(HOW_IT_WORKS)
        with gr.Tab("Video", id="video", elem_id="video-tab"):
            video_tab(VideoStudio(studio), gallery=style_gallery, choose_style=choose_style, queue=DEVICE_QUEUE)
        with examples_slot:
            examples = gr.Examples(
                examples=[[str(EXAMPLES / c), str(EXAMPLES / s)] for c, s in EXAMPLE_PAIRS],
                inputs=[content, style],
                outputs=results,
                fn=studio.run_example,
                cache_examples=True,
                cache_mode="lazy",
                label="Examples: click a pair (the result is kept after the first time)",
                elem_id="examples",
            )
        run = run_button.click(
            studio.stylize,
            inputs=[content, style, second_style, job],
            inputs_kwargs={**options, "blend": blend, **regions},
            outputs=results,
            api_name="stylize",
            concurrency_limit=studio.slots,  # one job per device (or per worker of a Ray pool)
            concurrency_id=DEVICE_QUEUE,
            show_progress="minimal",
        )
        gallery.select(choose_style, outputs=style, queue=False, api_visibility="private")
        stop_button.click(
            studio.stop, inputs=[job], outputs=results[2:], cancels=[run], queue=False, api_visibility="private"
        )
    share_queue(demo, examples, DEVICE_QUEUE, studio.slots)
    demo.queue(max_size=queue_size, default_concurrency_limit=1)
    share_fairly(demo, DEVICE_QUEUE)  # one job per visitor in it
    return demo


def _image_inputs(bounds: Bounds) -> tuple[gr.Image, gr.Image, gr.Image, gr.Slider]:
    """The content and style images, and the optional second style with its blend slider."""
    with gr.Row(elem_id="photo-inputs"):
        content = _image_input("Content: your photo", "content image", "content-image", webcam=True)
        style = _image_input("Style: a painting", "style image", "style-image")
    with gr.Accordion("Blend in a second style (optional)", open=False, elem_id="second-style-panel"), gr.Row():
        second_style = _image_input("Second style", "second style image", "second-style-image", height=200)
        blend = option_widget(PAGE_EXTRAS["blend"], PAGE_EXTRAS["blend"].default, bounds, elem_id="blend")
    return content, style, second_style, blend


def style_gallery() -> gr.Gallery:
    """The paintings (and generated styles) of :data:`STYLE_GALLERY`, to pick a style image with one click."""
    return gr.Gallery(
        [(str(EXAMPLES / name), caption) for name, caption in STYLE_GALLERY],
        label="Style gallery: click a painting to use it as the style",
        columns=5,
        height=240,
        object_fit="cover",
        allow_preview=False,
        buttons=[],
        interactive=False,
        elem_id="style-gallery",
    )


def choose_style(selected: gr.SelectData) -> str:
    """The style image for the gallery item the user clicked."""
    return str(EXAMPLES / STYLE_GALLERY[selected.index][0])


def _image_input(label: str, what: str, elem_id: str, *, webcam: bool = False, height: int = 260) -> gr.Image:
    """An image upload handed to the callbacks as a file path, in whatever mode it came, once its header passed
    the engine's checks (``what`` names it in their messages)."""
    sources = ["upload", "webcam", "clipboard"] if webcam else ["upload", "clipboard"]
    image = gr.Image(label=label, type="filepath", image_mode=None, sources=sources, height=height, elem_id=elem_id)
    return vetting_uploads(image, what)


def option_widgets(studio: Studio) -> dict[str, gr.components.Component]:
    """The Advanced panel, one widget per option name in :data:`~webapp.options.OPTION_NAMES` (but ``blend``),
    under a line that says what the defaults are tuned for."""
    gr.Markdown(defaults_note(studio.device.type, studio.fitted))
    return panel.option_widgets(studio.default_options(), studio.bounds)


def _result_widgets(studio: Studio) -> list[gr.components.Component]:
    """The outputs, in the order the Stylize callback yields them."""
    image = gr.Image(
        label="Result",
        type="pil",
        format="png",
        interactive=False,
        buttons=["download", "fullscreen"],
        height=420,
        elem_id="result",
    )
    status = gr.Markdown(
        f"Add a photo and a style image, then press **Stylize**.\n\n{hardware_line(studio.stylizer)}",
        label="Status",
        elem_id="status",
    )
    plot = gr.LinePlot(
        x="iteration",
        y="loss",
        color="term",
        x_title="iteration",
        y_title="loss (log₁₀)",
        color_map={"total": "#4f46e5", "style": "#d97706", "content": "#059669"},
        height=220,
        label="Loss: total (indigo), style (amber), content (green)",
        elem_id="loss-plot",
    )
    download = gr.File(label="Download: lossless PNG, full size", interactive=False, elem_id="download")
    video = gr.Video(
        label="Progress video (MP4): the previews, then the result",
        interactive=False,
        loop=True,
        height=300,
        elem_id="progress-video",
    )
    comparison = gr.ImageSlider(
        label="Before / after: drag the handle",
        type="pil",
        interactive=False,
        height=420,
        elem_id="before-after",
    )
    return [image, plot, status, download, video, comparison]


def defaults_note(device_type: str, fitted: FittedDefaults | None = None) -> str:
    """A line that says what the defaults are tuned for: the size chosen for this device when ``fitted``, else the
    fixed defaults of both kinds of hardware."""

    def describe(config: StyleConfig) -> str:
        total = config.iterations + config.coarse_iterations * (config.scales - 1)
        return f"{config.size} px, {config.scales} scales, {total} iterations"

    if fitted is not None:
        kind = "CPU" if device_type == "cpu" else "GPU"
        verdict = (
            f"fits about {fitted.target_seconds:.0f} s on this {kind}"
            if fitted.fits
            else f"the smallest size that still makes a good picture; longer than {fitted.target_seconds:.0f} s here"
        )
        return (
            f"Defaults chosen for this **{kind}** at start-up: {describe(fitted.config)}, about "
            f"{fitted.predicted_seconds:.0f} s for a square photo, less for others ({verdict}). "
            "Change the size in Advanced."
        )

    if device_type == "cpu":
        return (
            f"Defaults are set for this **CPU**: {describe(CPU_DEFAULTS)} (about a minute). "
            f"On a GPU they are {describe(GPU_DEFAULTS)}."
        )
    return f"Defaults are set for this **GPU**: {describe(GPU_DEFAULTS)}. On a CPU they are {describe(CPU_DEFAULTS)}."
