"""Who a request comes from, and sessions shared out so that no one visitor can push out another's.

A *visitor* is the address a request comes from: the socket's peer, or, where that
peer is a proxy on a private or loopback address (a Hugging Face Space's, say), the
last public address in its ``X-Forwarded-For``: the one the proxy itself added
(entries to its left are whatever the client sent). A client connecting straight
from a public address cannot choose its identity by sending the header. Behind a
proxy that adds no header, every visitor is the proxy, and the sharing below is
then Gradio's own (the least recently used session goes first).

:data:`current_visitor` holds the visitor of the request being served (set by
:class:`~webapp.request_guard.RequestGuard`); :class:`SessionOwners` records which
visitor opened each of Gradio's sessions and, when there are too many, picks the one
to drop: the least recently used session of whoever holds the most.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable
from contextvars import ContextVar

#: The visitor of the request being served; "unknown" outside a request.
current_visitor: ContextVar[str] = ContextVar("current_visitor", default="unknown")


def visitor_of(peer: str | None, forwarded_for: str | None = None) -> str:
    """The visitor behind a request from ``peer`` (the socket's address) with the ``X-Forwarded-For`` header
    ``forwarded_for``: see the module's docstring."""
    if peer is None:
        return "unknown"
    if forwarded_for and not _is_public(peer):
        for entry in reversed(forwarded_for.split(",")):
            if _is_public(entry.strip()):
                return entry.strip()
    return peer


def _is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast)


class SessionOwners:
    """Which visitor opened each session, and which session to drop when there are too many."""

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}

    def note(self, session: str, visitor: str) -> None:
        """Record that ``visitor`` opened ``session``, unless it is known already."""
        self._owner.setdefault(session, visitor)

    def forget(self, session: str) -> None:
        """``session`` has ended."""
        self._owner.pop(session, None)

    def owner(self, session: str) -> str:
        """The visitor who opened ``session``."""
        return self._owner.get(session, "unknown")

    def to_drop(self, sessions: Iterable[str]) -> str:
        """Of ``sessions`` (least recently used first), the one to drop: the least recently used of those whose
        visitor holds the most sessions. One client opening session after session thus only ever drops its own."""
        order = list(sessions)
        held = Counter(self.owner(session) for session in order)
        most = max(held.values())
        return next(session for session in order if held[self.owner(session)] == most)
