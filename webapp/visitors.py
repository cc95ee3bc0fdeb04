"""Who a request comes from, and sessions shared out so that no one visitor can push out another's.

A *visitor* is the address a request comes from: the socket's peer, or, where that
peer is a proxy the deployment trusts (:data:`TRUSTED_PROXIES_ENV`; on a Hugging Face
Space, by default, any private or loopback address, which is where its one proxy
connects from), the rightmost address of its ``X-Forwarded-For`` that is not itself a
trusted proxy: the one the proxy added (entries to its left are whatever the client
sent). A client connecting from an address not trusted cannot choose its identity by
sending the header; with no trusted proxy declared (a local run, ``--share``), every
visitor is its connection's address. The server (uvicorn) is told the same proxies
(:func:`believing_only`), since it rewrites the connection's address from their
header before the app sees it. Behind a proxy that adds no header, every
visitor is the proxy, and all of them then share one visitor's sessions and jobs.

:data:`current_visitor` holds the visitor of the request being served (set by
:class:`~webapp.request_guard.RequestGuard`); :class:`SessionOwners` records which
visitor opened each of Gradio's sessions and picks the ones to drop: a visitor's own
least recently used session once they hold more than their share, and when there are
too many in all, the least recently used session of whoever holds the most.
"""

from __future__ import annotations

import ipaddress
import os
from collections import Counter
from collections.abc import Iterable, Mapping, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass

#: The visitor of the request being served; "unknown" outside a request.
current_visitor: ContextVar[str] = ContextVar("current_visitor", default="unknown")


#: The proxies whose ``X-Forwarded-For`` is believed: addresses or networks (``10.0.0.0/8``), comma-separated, or
#: ``private`` for :data:`PRIVATE_NETWORKS`. Unset: ``private`` on a Hugging Face Space, else none.
TRUSTED_PROXIES_ENV = "STYLETRANSFER_TRUSTED_PROXIES"
#: Uvicorn's own setting of the proxies it believes (it rewrites the connection's address from their header before
#: any of the app's code runs, trusting loopback by default); :func:`believing_only` sets it from ours.
UVICORN_ENV = "FORWARDED_ALLOW_IPS"
_PRIVATE = "private"
#: What ``private`` means: the private, shared, loopback and link-local networks.
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    """The peers whose ``X-Forwarded-For`` names the visitor."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """From :data:`TRUSTED_PROXIES_ENV`'s syntax; raises ``ValueError`` naming a bad entry."""
        networks: list[Network] = []
        for entry in (entry.strip() for entry in text.split(",")):
            if entry.lower() == _PRIVATE:
                networks += PRIVATE_NETWORKS
            elif entry:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise ValueError(f"{TRUSTED_PROXIES_ENV}: {entry!r} is not an address or a network.") from None
        return cls(tuple(networks))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> TrustedProxies:
        """From :data:`TRUSTED_PROXIES_ENV`; unset, ``private`` on a Space (``SPACE_ID`` set) and none elsewhere."""
        text = environ.get(TRUSTED_PROXIES_ENV)
        if text is None:
            text = _PRIVATE if environ.get("SPACE_ID") else ""
        return cls.parse(text)

    def trusts(self, address: str) -> bool:
        """Whether ``address`` is one of these proxies."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def uvicorn_setting(self) -> str:
        """These proxies in :data:`UVICORN_ENV`'s syntax (empty: none)."""
        return ",".join(str(network) for network in self.networks)


def believing_only(trusted: TrustedProxies, environ: MutableMapping[str, str] = os.environ) -> None:
    """Make the server (uvicorn, started after this) believe the header of ``trusted`` proxies only, so that the
    connection's address the app sees is :func:`visitor_of` the real peer: by default uvicorn believes any client
    on loopback, who could then choose to be any visitor."""
    environ[UVICORN_ENV] = trusted.uvicorn_setting()


def visitor_of(peer: str | None, forwarded_for: str | None = None, trusted: TrustedProxies | None = None) -> str:
    """The visitor behind a request from ``peer`` (the socket's address) with the ``X-Forwarded-For`` header
    ``forwarded_for``, ``trusted`` being the proxies believed (default: :meth:`TrustedProxies.from_environment`):
    see the module's docstring."""
    if peer is None:
        return "unknown"
    trusted = trusted if trusted is not None else TrustedProxies.from_environment()
    if forwarded_for and trusted.trusts(peer):
        for entry in reversed([entry.strip() for entry in forwarded_for.split(",")]):
            if not trusted.trusts(entry):
                return entry if _is_address(entry) else peer
    return peer


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class SessionOwners:
    """Which visitor opened each session, and which session to drop when there are too many."""

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}

    def note(self, session: str, visitor: str) -> bool:
        """Record that ``visitor`` opened ``session``, unless it is known already; whether it was new."""
        if session in self._owner:
            return False
        self._owner[session] = visitor
        return True

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

    def beyond_share(self, sessions: Iterable[str], visitor: str, share: int) -> list[str]:
        """Of ``sessions`` (least recently used first), those of ``visitor`` beyond the ``share`` they most
        recently used: the ones to drop so that one visitor, opening session after session (a script, a client
        that reconnects), pins no more of the server's memory than ``share`` sessions' state."""
        own = [session for session in sessions if self.owner(session) == visitor]
        return own[: max(0, len(own) - share)]
