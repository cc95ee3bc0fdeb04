"""The page for everyone (WCAG 2.2 AA): the theme's colours, the CSS for focus, target sizes and narrow screens,
and a small script that names what Gradio's components leave unnamed.

The theme is Gradio's *Soft* with indigo and amber, its text and control colours
darkened (light mode) or lightened (dark mode) to at least 4.5:1 for text and 3:1
for the outlines of controls. The script (``accessibility.js``, loaded through
Gradio's ``head`` hook) adds or corrects names, roles and alt text, keeps a polite
live region that announces each change of the status line's phase, and gives the
focus back to the layer menu's button when choosing a layer closes the menu; it
changes nothing else the page does. What is left in Gradio's own markup is listed
in README.md.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path

import gradio as gr

SCRIPT = Path(__file__).with_name("accessibility.js")

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="amber", neutral_hue="slate").set(
    # Labels and upload prompts: indigo 700 on indigo 100 (6.4:1) or white (7.9:1) instead of indigo 500 (3.6:1,
    # 4.5:1); dark mode keeps Soft's white on indigo 600 (6.3:1).
    block_label_text_color="*primary_700",
    block_title_text_color="*primary_700",
    # Hints, "- or -" and the footer: slate 600 (7.2:1 on slate 50) instead of slate 400 (2.5:1).
    body_text_color_subdued="*neutral_600",
    body_text_color_subdued_dark="*neutral_400",
    # Primary buttons: white on indigo 600 (6.3:1), darker when hovered rather than lighter (indigo 400: 3.0:1).
    button_primary_background_fill="*primary_600",
    button_primary_background_fill_hover="*primary_700",
    button_primary_border_color="*primary_600",
    button_primary_border_color_hover="*primary_700",
    button_primary_background_fill_dark="*primary_600",
    button_primary_background_fill_hover_dark="*primary_700",
    button_primary_border_color_dark="*primary_600",
    button_primary_border_color_hover_dark="*primary_700",
    button_primary_text_color="white",
    button_primary_text_color_dark="white",
    # The secondary button's hover in dark mode was indigo 500 under light text (3.3:1).
    button_secondary_background_fill_hover_dark="*neutral_500",
    checkbox_label_background_fill_selected="*primary_600",
    checkbox_label_background_fill_selected_dark="*primary_700",
    # Links (the download's size): amber 700/800 on light (4.8:1), amber 400 on dark.
    link_text_color="*secondary_700",
    link_text_color_hover="*secondary_800",
    link_text_color_active="*secondary_800",
    link_text_color_visited="*secondary_700",
    link_text_color_dark="*secondary_400",
    link_text_color_hover_dark="*secondary_300",
    link_text_color_active_dark="*secondary_300",
    link_text_color_visited_dark="*secondary_400",
    # Outlines of text boxes, number boxes and check boxes: at least 3:1 against their background.
    input_border_color="*neutral_500",
    input_border_color_dark="*neutral_500",
    input_border_color_hover="*neutral_600",
    input_border_color_hover_dark="*neutral_400",
    checkbox_border_color="*neutral_500",
    checkbox_border_color_dark="*neutral_400",
)

CSS = """
/* A strong indigo: 7.9:1 on white, 7.3:1 on dark slate; for the focus ring and accent-coloured text. */
:root { --st-strong-accent: var(--primary-700); }
.dark { --st-strong-accent: var(--primary-300); }
/* Focus always visible: a 3 px ring in a colour of at least 3:1 against the page, on every focusable thing. */
.gradio-container :is(button, a, input, select, textarea, summary, [tabindex]):focus-visible {
    outline: 3px solid var(--st-strong-accent) !important; outline-offset: 2px; }
/* On a chosen option's indigo background (radio buttons) the ring is white in light mode (6.3:1). */
.gradio-container label.selected { --st-strong-accent: white; }
.dark .gradio-container label.selected { --st-strong-accent: var(--primary-300); }
/* On the video player's dark control bar, in both modes. */
.gradio-container .mirror-wrap ~ .controls { --st-strong-accent: white; }
/* Inside boxes that clip their overflow (the gallery, the image boxes) the ring is drawn inside. */
.gradio-container :is(.thumbnail-item, .upload-container, .image-container button):focus-visible {
    outline-offset: -3px; }
/* Icon buttons at least 24 by 24 CSS px (WCAG 2.2's target size). */
.gradio-container :is(.icon-button-wrapper, .layer-wrap) button.icon-button { min-width: 24px; min-height: 24px; }
/* A download link's icon button is only its picture (the script takes it out of the tab order): the link is the
   target. */
.gradio-container a.download-link > button.icon-button { pointer-events: none; }
/* Text in the theme's accent (indigo 500: 4.46:1 on white, 3.3:1 on dark slate) in the strong one instead:
   the chosen tab and the regions editor's chosen layer. */
.gradio-container :is(button[role="tab"].selected, .layer-wrap button.selected_layer) {
    color: var(--st-strong-accent); }
/* On a phone or a tablet the style gallery takes as many columns as fit, so the page never scrolls sideways and
   no painting is cut off. */
@media (max-width: 1023px) {
    #style-gallery .grid-container { grid-template-columns: repeat(auto-fill, minmax(88px, 1fr)); } }
/* Read by screen readers only: the status announcements. */
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
           clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
"""


def head(style_names: Mapping[str, str]) -> str:
    """The ``<script>`` for Gradio's ``head`` hook; ``style_names`` maps a style image's file name to the
    painting and painter it shows (for the results' alt text)."""
    names = html.escape(json.dumps(dict(style_names)), quote=True)
    return f'<script data-style-names="{names}">\n{SCRIPT.read_text(encoding="utf-8")}</script>'
