"""The Video tab: a clip and a painting in, the current frame streamed as it is made, the video out.

Its Stylize-video event is the API's ``/stylize_video``; it shares the page's device queue, so a clip waits for a
photo job and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from styletransfer import SETTINGS

from .gradio_internals import naming_refusals, vetting_uploads
from .video_jobs import VideoJob, VideoStudio

#: The temporal weight's slider goes this high (the setting itself allows more).
MOST_TEMPORAL_WEIGHT = 2000.0
#: The later frames' iterations go this high on the page.
MOST_VIDEO_ITERATIONS = 200


def video_tab(
    studio: VideoStudio,
    *,
    gallery: Callable[[], gr.Gallery],
    choose_style: Callable[[gr.SelectData], str],
    queue: str,
) -> None:
    """The tab's widgets and events, wired to ``studio``: ``gallery`` makes a style gallery whose clicks
    ``choose_style`` turns into the style image, and the job runs in the device queue ``queue``."""
    bounds, config = studio.bounds, studio.default_config()
    gr.Markdown(
        f"Repaint a short clip (at most {bounds.max_seconds:g} s and {bounds.max_frames} frames here): each frame "
        "starts from the one before, moved along the optical flow, and keeps to it wherever the flow can be trusted "
        "(Ruder et al.), so the strokes stay put instead of flickering. The sound is kept."
    )
    job = gr.State(VideoJob())
    with gr.Row(equal_height=False):
        with gr.Column(min_width=320):
            with gr.Row():
                video = gr.Video(
                    label="Clip", sources=["upload"], format=None, include_audio=True, height=260, elem_id="video-input"
                )
                style = gr.Image(
                    label="Style: a painting",
                    type="filepath",
                    image_mode=None,
                    sources=["upload", "clipboard"],
                    height=260,
                    elem_id="video-style-image",
                )
                vetting_uploads(style, "style image")
            styles = gallery()
            with gr.Row():
                size = _slider("size", 32, bounds.max_size, 16, bounds.default_size, "Frame size (long side, px)")
                temporal = _slider("temporal_weight", 0.0, MOST_TEMPORAL_WEIGHT, 10.0, config.temporal_weight)
                iterations = _slider("video_iterations", 1, MOST_VIDEO_ITERATIONS, 1, config.video_iterations)
            with gr.Row():
                run_button = gr.Button("Stylize video", variant="primary", elem_id="video-stylize", scale=2)
                stop_button = gr.Button("Stop", variant="stop", elem_id="video-stop", scale=1)
        with gr.Column(min_width=320):
            frame = gr.Image(label="Current frame", type="pil", interactive=False, height=300, elem_id="video-frame")
            status = gr.Markdown("Add a clip and a style image, then press **Stylize video**.", elem_id="video-status")
            result = gr.Video(label="Result", interactive=False, loop=True, height=300, elem_id="video-result")
            download = gr.File(label="Download: MP4 with the clip's sound", interactive=False, elem_id="video-download")
    run = run_button.click(
        studio.stylize_video,
        inputs=[video, style, size, temporal, iterations, job],
        outputs=[frame, status, result, download],
        api_name="stylize_video",
        concurrency_limit=studio.studio.slots,
        concurrency_id=queue,
        show_progress="minimal",
    )
    styles.select(choose_style, outputs=style, queue=False, api_visibility="private")
    stop_button.click(
        studio.stop,
        inputs=[job],
        outputs=[status, result, download],
        cancels=[run],
        queue=False,
        api_name="stop_video",
    )


def _slider(name: str, low: float, high: float, step: float, value: float, label: str | None = None) -> gr.Slider:
    """A slider for the setting ``name``, labelled and explained as the setting is, refusing values out of range
    with a message that names it."""
    described = SETTINGS[name]
    slider = gr.Slider(
        low,
        high,
        value=value,
        step=step,
        label=label or described.label,
        info=described.help,
        precision=0 if described.kind == "whole" else None,
        elem_id=f"video-{name.replace('_', '-')}",
    )
    return naming_refusals(slider, name)
