"""What :meth:`gr.Blocks.launch` needs so that a public link exposes the page and nothing more.

:func:`launch_options` readies a built page for strangers and returns the launch
settings that go with it: the request guard and the upload sweeper
(:mod:`webapp.request_guard`, :mod:`webapp.sweeper`), the region editor's blob
limits (:mod:`webapp.blobs`), visitors told apart by address, a forwarded one
believed from the declared proxies only, and sessions shared out by visitor
(:mod:`webapp.visitors`), no server-side fetching of URLs, and monitoring, MCP, run
history and vibe mode off whatever the environment says, and requests with too few
values or malformed ones refused with a message. The README's Security section says
what a visitor can and cannot do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder
from starlette.middleware import Middleware

from . import gradio_internals as internals
from .blobs import BlobLedger
from .masks import LAYERS
from .request_guard import RequestGuard, RequestLimits
from .sweeper import UploadSweeper, keep_files_seconds, sweep_interval
from .visitors import SessionOwners, TrustedProxies, believing_only


def launch_options(demo: gr.Blocks, *, max_upload: int, sessions: int, sessions_per_visitor: int) -> dict[str, Any]:
    """Ready ``demo`` for a public link and return the keyword arguments of ``demo.launch`` that go with it:
    uploads of at most ``max_upload`` bytes, one file a request, and the state of at most ``sessions`` sessions,
    ``sessions_per_visitor`` of them any one visitor's."""
    internals.closing_extras(demo)
    internals.checking_inputs(demo)  # too few values, or a value of the wrong shape: a message, not a bare error
    believing_only(TrustedProxies.from_environment())  # X-Forwarded-For from the declared proxies only
    ends: list[Callable[[str], None]] = []
    for block in demo.blocks.values():
        internals.refusing_urls(block)
        if isinstance(block, gr.ImageEditor):
            ends.append(internals.guarding_blobs(block, BlobLedger(), layers=len(LAYERS)))

    def session_ended(session: str) -> None:
        for end in ends:
            end(session)

    def tab_closed(request: gr.Request) -> None:
        if request.session_hash:
            session_ended(request.session_hash)

    demo.unload(tab_closed)
    keep_seconds = keep_files_seconds()
    sweeper = UploadSweeper(
        get_upload_folder(),
        keep=lambda: internals.kept_for_the_page(demo) | internals.files_in_queue(demo),
        max_age=keep_seconds,
        interval=sweep_interval(keep_seconds),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        internals.serving_no_extra_paths(demo)
        internals.sharing_sessions_fairly(
            app.state_holder,
            SessionOwners(),
            session_ended,
            sessions_per_visitor,
            busy=lambda: internals.sessions_in_queue(demo),
        )
        sweeping = asyncio.create_task(sweeper.run())
        try:
            yield
        finally:
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping

    guard = Middleware(RequestGuard, limits=RequestLimits(upload_bytes=max_upload), sweeper=sweeper)
    return {
        "max_file_size": max_upload,
        "state_session_capacity": sessions,
        "app_kwargs": {"middleware": [guard], "lifespan": lifespan},
        "enable_monitoring": False,
        "mcp_server": False,
        "run_history": False,
    }
