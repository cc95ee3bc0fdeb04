"""One description of each setting: its kind, range or choices, help, and where the page shows it.

:class:`~styletransfer.config.StyleConfig` declares its fields with :func:`setting`,
and everything else is made from that one table: the config's own checks, the
command line's flags (:mod:`styletransfer.cli`), and the page's widgets and API
parameters (``webapp``). Adding a setting is one field plus the code that uses it.
"""

from __future__ import annotations

import math
from dataclasses import Field, dataclass, field, fields, replace
from typing import Any, Literal

Kind = Literal["whole", "number", "bytes", "choice", "numbers", "names", "switch"]
"""``whole``/``number``: one integer/float in [low, high]; ``bytes``: a whole number of bytes in [low, high]
(written ``2GB`` or ``512MB`` on the command line); ``choice``: one of ``choices``; ``numbers``/``names``: one or
more floats/strings; ``switch``: true or false."""


@dataclass(frozen=True)
class Setting:
    """How one setting is described, checked and offered."""

    kind: Kind
    label: str
    """A few words for the page's widget."""
    help: str = ""
    """One sentence for the command line's ``--help`` and the page's hint under the widget."""
    low: float | None = None
    high: float | None = None
    choices: tuple[tuple[str, str], ...] = ()
    """``(value, label)`` pairs: the value for the config, the command line and the API; the label for the page."""
    optional: bool = False
    """``None`` is allowed, and means what the field's docstring says (no limit, equal weights, …)."""
    step: float | None = None
    """The page's slider step; a setting without one gets a number box."""
    row: int | None = None
    """Which row of the page's Advanced panel shows it; ``None``: not on the page."""
    short_flag: str | None = None
    """A one-letter command-line flag besides ``--name-with-dashes``, such as ``-s``."""
    name: str = ""
    """Filled in by :func:`settings_of` from the field's name."""
    default: Any = None
    """Filled in by :func:`settings_of` from the field's default."""

    @property
    def values(self) -> tuple[str, ...]:
        """The allowed values of a ``choice``."""
        return tuple(value for value, _ in self.choices)

    @property
    def flag(self) -> str:
        """The command-line flag: the name with dashes."""
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> Any:
        """``value`` if it is allowed (numbers in ``numbers``/``names`` as a tuple); otherwise ``ValueError`` with
        a message that names the setting and says what it takes."""
        if value is None and self.optional:
            return None
        if self.kind == "choice":
            if value not in self.values:
                raise ValueError(f"{self.name} must be one of {', '.join(self.values)}; got {value!r}.")
            return value
        if self.kind == "switch":
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be true or false; got {value!r}.")
            return value
        if self.kind in ("whole", "bytes"):
            if isinstance(value, bool) or not isinstance(value, int) or not self.low <= value <= self.high:
                unit = " bytes" if self.kind == "bytes" else ""
                raise ValueError(
                    f"{self.name} must be a whole number from {self.low} to {self.high}{unit}; got {value!r}."
                )
            return value
        if self.kind == "number":
            if not _is_number(value) or not self.low <= value <= self.high:
                raise ValueError(f"{self.name} must be a number from {self.low:g} to {self.high:g}; got {value!r}.")
            return value
        items = tuple(value) if isinstance(value, (list, tuple)) else ()
        if self.kind == "names":
            if not items or not all(isinstance(item, str) for item in items):
                raise ValueError(f"{self.name} must name at least one layer; got {value!r}.")
            return items
        if not all(_is_number(item) and item >= 0 for item in items) or sum(items) <= 0:
            raise ValueError(f"{self.name} must be non-negative numbers with a positive sum.")
        return tuple(float(item) for item in items)


def setting(default: Any, kind: Kind, label: str, help: str = "", **details: Any) -> Any:
    """A dataclass field with ``default``, described by a :class:`Setting` (``details`` are its other fields)."""
    return field(default=default, metadata={"setting": Setting(kind, label, help, **details)})


def settings_of(config_class: type) -> dict[str, Setting]:
    """Every field of ``config_class`` declared with :func:`setting`, by name, in declaration order."""
    return {item.name: _described(item) for item in fields(config_class) if "setting" in item.metadata}


def _described(item: Field) -> Setting:
    return replace(item.metadata["setting"], name=item.name, default=item.default)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
