"""A fair queue: at most one running or waiting device job per visitor (more with a setting).

A visitor is :func:`~webapp.visitors.visitor_of` the request that queued the job (the
connection's address, or behind a trusted proxy the address it forwarded), so that
more tabs or more API sessions give no more places. Every event of the device queue
counts: a photo, a video, an example's run. A job over the limit is refused when it
asks to join, before it waits: it gets :func:`refusal` as its error, as the page and
``gradio_client`` show any other, and the visitor's job already there goes on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import gradio as gr

from . import gradio_internals as internals

#: The most device jobs one visitor may have running or waiting at once (default 1); a private deployment may
#: raise it.
JOBS_PER_VISITOR_ENV = "STYLETRANSFER_JOBS_PER_VISITOR"
#: The title of the refusal's message.
TITLE = "One job at a time"


def jobs_per_visitor(environ: Mapping[str, str] = os.environ) -> int:
    """The limit set by :data:`JOBS_PER_VISITOR_ENV`, 1 when unset; raises ``ValueError`` naming a bad value."""
    text = environ.get(JOBS_PER_VISITOR_ENV, "").strip() or "1"
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{JOBS_PER_VISITOR_ENV} must be a whole number of at least 1, not {text[:20]!r}.")
    return int(text)


def refusal(limit: int) -> str:
    """What a visitor who already holds ``limit`` jobs is told."""
    if limit == 1:
        return "You already have a job waiting or running; stop it or wait for it."
    return f"You already have {limit} jobs waiting or running; stop one or wait for it."


def admits(visitor: str, holders: Iterable[str], limit: int) -> bool:
    """Whether ``visitor`` may queue one more job, ``holders`` being the visitor of each job running or waiting."""
    return sum(holder == visitor for holder in holders) < limit


def share_fairly(demo: gr.Blocks, concurrency_id: str, environ: Mapping[str, str] = os.environ) -> None:
    """Hold each visitor to :func:`jobs_per_visitor` jobs of the queue ``concurrency_id`` of ``demo``; call it after
    ``demo.queue()``. It adds a private event to ``demo`` that delivers the refusal, in a queue of its own."""
    limit = jobs_per_visitor(environ)
    message = refusal(limit)

    def refuse() -> None:
        raise gr.Error(message, title=TITLE, print_exception=False)

    with demo:
        refused = gr.api(refuse, api_name="refused", api_visibility="private", concurrency_limit=None)
    internals.limiting_jobs(demo, concurrency_id, lambda visitor, holders: admits(visitor, holders, limit), refused)
