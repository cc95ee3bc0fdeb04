"""The Advanced panel: one widget per page option, made from the settings' descriptions.

Each widget's range is its setting's, narrowed by the server's
:class:`~webapp.options.Bounds`; its label and hint are the setting's own. Gradio
makes the API's ``/stylize`` parameters from these widgets, so the page, the API
and the config share one description of every setting.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from styletransfer import Setting

from .gradio_internals import naming_refusals
from .options import NO_TIME_LIMIT, PAGE_CONFIG, PAGE_EXTRAS, Bounds

#: Choices whose labels are all this short are radio buttons; longer ones go in a dropdown.
LONGEST_RADIO_LABEL = 10


def option_widgets(values: dict[str, Any], bounds: Bounds) -> dict[str, gr.components.Component]:
    """The panel's widgets, row by row, showing ``values`` (see :func:`~webapp.options.options_from_config`);
    each refuses out-of-range values with a message that names its setting."""
    shown = {**{name: PAGE_EXTRAS[name] for name in ("multiscale", "backbone")}, **PAGE_CONFIG}
    rows = sorted({described.row for described in shown.values()})
    widgets = {}
    for row in rows:
        with gr.Row():
            for name, described in shown.items():
                if described.row == row:
                    widgets[name] = option_widget(described, values[name], bounds)
    return widgets


def option_widget(described: Setting, value: Any, bounds: Bounds, *, elem_id: str | None = None) -> gr.Component:
    """The widget for one setting, showing ``value``, within ``bounds``."""
    common = {
        "value": value,
        "label": described.label,
        "info": described.help or None,
        "elem_id": elem_id or f"option-{described.name}",
    }
    if described.kind == "switch":
        widget = gr.Checkbox(**common)
    elif described.kind == "choice":
        choices = [(label, choice) for choice, label in described.choices]
        short = all(len(label) <= LONGEST_RADIO_LABEL for label, _ in choices)
        kind = gr.Radio if short else gr.Dropdown
        widget = kind(choices, **common)
    else:
        widget = _number_widget(described, bounds, common)
    return naming_refusals(widget, described.name)


def _number_widget(described: Setting, bounds: Bounds, common: dict[str, Any]) -> gr.Component:
    """A slider when the setting has a step, else a number box; whole numbers get precision 0."""
    highest = bounds.highest(described.name)
    high = described.high if highest is None else min(described.high, highest)
    precision = 0 if described.kind == "whole" else None
    if described.name == "time_limit":
        common["label"] = f"{described.label}, {NO_TIME_LIMIT} for the longest: {high:g}"
    if described.step is None:
        return gr.Number(minimum=described.low, maximum=high, precision=precision, **common)
    return gr.Slider(described.low, high, step=described.step, precision=precision, **common)
