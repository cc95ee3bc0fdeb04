"""The region editor's blobs held to limits: per blob, per session and in all.

The page's editor sends its pictures (background, layers, composite) ahead of an
event, each as a *blob* under a *set* id that the event then names; Gradio keeps
them in memory on the one editor all sessions share until an event uses the set.
:class:`BlobLedger` keeps the accounts: it refuses a blob over
:attr:`BlobLimits.blob_bytes` or a set id another session holds, and says which sets
to drop: a session's oldest beyond :attr:`BlobLimits.sets_per_session`, and, while
all sets together pass :attr:`BlobLimits.total_bytes`, the oldest of the visitor
(see :mod:`webapp.visitors`) who holds the most bytes. A session's sets go when the
session ends. The wrapping of Gradio's editor is
:func:`webapp.gradio_internals.guarding_blobs`.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Container
from dataclasses import dataclass

MB = 2**20


class BlobRefused(ValueError):
    """A blob the ledger does not take; the message says why."""


@dataclass(frozen=True)
class BlobLimits:
    """How much of the editor's blobs the server holds."""

    blob_bytes: int = 8 * MB
    """One picture: the page's editor sends PNGs of a photo at most 768 px long, a few hundred KB each."""
    sets_per_session: int = 4
    """The page sends one set per change of the editor and the next event uses it; a few may be in flight."""
    total_bytes: int = 128 * MB
    """All sets of all sessions together."""


@dataclass
class _Set:
    session: str
    visitor: str
    size: int = 0


class BlobLedger:
    """The accounts of the sets held, oldest first (see the module's docstring)."""

    def __init__(self, limits: BlobLimits | None = None) -> None:
        self.limits = limits or BlobLimits()
        self._sets: OrderedDict[str, _Set] = OrderedDict()

    def admit(self, set_id: str, session: str, visitor: str, size: int) -> list[str]:
        """Take a blob of ``size`` bytes for the set ``set_id`` of ``session`` (opened by ``visitor``); the sets to
        drop now. Raises :class:`BlobRefused` for a blob too big or a set id that another session holds."""
        if size > self.limits.blob_bytes:
            raise BlobRefused(f"A picture of the editor may have at most {self.limits.blob_bytes // MB} MB.")
        held = self._sets.get(set_id)
        if held is not None and held.session != session:
            raise BlobRefused("This set of pictures belongs to another session.")
        if held is None:
            held = self._sets[set_id] = _Set(session, visitor)
        held.size += size
        drop = self._over_session_limit(session)
        while self.total_bytes - sum(self._sets[d].size for d in drop) > self.limits.total_bytes:
            drop.append(self._heaviest_visitors_oldest(exclude=drop))
        for set_id in drop:
            del self._sets[set_id]
        return drop

    def keep_only(self, alive: Container[str]) -> None:
        """Forget the sets that are no longer held (Gradio drops a set once an event has used it)."""
        for set_id in [s for s in self._sets if s not in alive]:
            del self._sets[set_id]

    def end_session(self, session: str) -> list[str]:
        """``session`` has ended: forget its sets and return their ids, to drop."""
        ended = [set_id for set_id, held in self._sets.items() if held.session == session]
        for set_id in ended:
            del self._sets[set_id]
        return ended

    @property
    def total_bytes(self) -> int:
        """The bytes of all sets held."""
        return sum(held.size for held in self._sets.values())

    def sets_of(self, session: str) -> list[str]:
        """The ids of the sets ``session`` holds, oldest first."""
        return [set_id for set_id, held in self._sets.items() if held.session == session]

    def _over_session_limit(self, session: str) -> list[str]:
        sets = self.sets_of(session)
        return sets[: max(0, len(sets) - self.limits.sets_per_session)]

    def _heaviest_visitors_oldest(self, exclude: list[str]) -> str:
        kept = [(set_id, held) for set_id, held in self._sets.items() if set_id not in exclude]
        weight = Counter()
        for _, held in kept:
            weight[held.visitor] += held.size
        heaviest = max(weight, key=weight.__getitem__)
        return next(set_id for set_id, held in kept if held.visitor == heaviest)
