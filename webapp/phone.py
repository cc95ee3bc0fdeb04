"""The page on a phone or a tablet: one column that never scrolls sideways, touch-sized controls, and the result
brought into view when a job starts.

Gradio's rows already wrap their columns on a narrow screen, and the style gallery
takes as many columns as fit up to a tablet's width (``accessibility.CSS``); what
is added here: up to :data:`PHONE_WIDTH` the photo and style boxes stack; on a touch
screen (or a phone-wide window) buttons, tabs, panel headings and choices are at
least :data:`TOUCH_TARGET` CSS px tall; and ``phone.js`` (loaded through Gradio's
``head`` hook) scrolls to the result and the status line under it once a job
started with *Stylize* shows its progress on a one-column page. Desktop layouts are
left as they are.
"""

from __future__ import annotations

from pathlib import Path

SCRIPT = Path(__file__).with_name("phone.js")
#: The widest screen treated as a phone, in CSS px: portrait phones are 360–430 px wide.
PHONE_WIDTH = 639
#: The least height of a touch target, in CSS px (WCAG 2.5.5's enhanced target size; Apple's guidance too).
TOUCH_TARGET = 44
#: The image boxes' source buttons sit three in a row under the box: a little smaller, still well apart.
SOURCE_TARGET = 36

#: Gradio scopes every selector of the page's CSS to its container (it splits selector lists at each comma, so
#: none here is written inside ``:is()``).
CSS = f"""
/* Phones: the photo and the style one above the other, each as wide as the screen. */
@media (max-width: {PHONE_WIDTH}px) {{
    #photo-inputs {{ flex-direction: column; }}
    #photo-inputs > * {{ min-width: 100% !important; }}
}}
/* Touch screens (and any phone-wide window): buttons, tabs, panel headings and choices at least {TOUCH_TARGET} px
   tall, the image boxes' source buttons (upload, camera, clipboard) {SOURCE_TARGET} px square. */
@media (pointer: coarse) or (max-width: {PHONE_WIDTH}px) {{
    button.lg, button.md, button[role="tab"], button.label-wrap, label:has(> input) {{ min-height: {TOUCH_TARGET}px; }}
    .tab-wrapper, .tab-container, .source-selection {{ height: auto; }}
    .source-selection button.icon {{ min-width: {SOURCE_TARGET}px; min-height: {SOURCE_TARGET}px; }}
}}
"""


def head() -> str:
    """The ``<script>`` for Gradio's ``head`` hook."""
    return f"<script>\n{SCRIPT.read_text(encoding='utf-8')}</script>"
