"""The Gradio app: live neural style transfer in the browser, and the Hugging Face Space entry point.

    python app.py                      # http://127.0.0.1:7860
    python app.py --host 0.0.0.0 --port 8080
    python app.py --share              # also a public gradio.live link (or GRADIO_SHARE=1)
    python app.py --ray local:2        # jobs on 2 Ray workers on this machine (or STYLETRANSFER_RAY=local:2)
    python app.py --ray auto           # jobs on the Ray cluster this machine belongs to: one worker per GPU

Without flags, ``GRADIO_SERVER_NAME`` and ``GRADIO_SERVER_PORT`` are honoured (a Space
sets them). ``STYLETRANSFER_WEIGHTS`` picks the backbone weights: ``auto`` (default:
the Hub, else the bundled original VGG19), ``hub``, ``bundled`` or a safetensors path.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

with contextlib.suppress(ImportError):  # On a ZeroGPU Space, `spaces` must come before torch sets up CUDA.
    import spaces  # noqa: F401

import gradio as gr

from styletransfer.device import limit_heap_arenas
from styletransfer.pool import WORKERS_ENV, PoolSetting
from webapp.fair_queue import jobs_per_visitor
from webapp.fitting import target_seconds
from webapp.hardening import launch_options
from webapp.jobs import Studio
from webapp.layout import LAUNCH_STYLE, build_demo
from webapp.zerogpu import on_zero_gpu

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
#: Largest upload accepted, in bytes (one file a request); the engine refuses images over 100 megapixels anyway.
MAX_UPLOAD = 50 * 2**20
#: Sessions whose state Gradio keeps (1–2 MB each here: a copy of the page's config and the latest picture);
#: beyond this the least recently used of whoever holds the most goes. Gradio's default, 10000, could fill a
#: Space's memory.
SESSIONS_KEPT = 200
#: Sessions of any one visitor (an address) whose state is kept, for each job a visitor may have
#: (``STYLETRANSFER_JOBS_PER_VISITOR``, 1 unless set); one more drops their least recently used. Each new
#: session costs the server about 0.3 MB (120 new sessions, one job each, raised it 47 MB; 120 jobs in one session,
#: 6 MB), so a client that opens session after session would otherwise pin memory up to ``SESSIONS_KEPT``.
SESSIONS_PER_VISITOR = 4
#: glibc heap arenas the server's threads share (see :func:`~styletransfer.device.limit_heap_arenas`).
HEAP_ARENAS = 2
_TRUE = {"1", "true", "yes", "on"}

logger = logging.getLogger("styletransfer.app")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line: ``--host``, ``--port`` and ``--share``."""
    parser = argparse.ArgumentParser(description="Serve the style transfer app.")
    parser.add_argument("--host", help=f"address to listen on (default: $GRADIO_SERVER_NAME or {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, help=f"port (default: $GRADIO_SERVER_PORT or {DEFAULT_PORT})")
    parser.add_argument("--share", action="store_true", help="also make a public gradio.live link ($GRADIO_SHARE=1)")
    parser.add_argument(
        "--ray",
        metavar="SETTING",
        help="run the jobs on Ray workers: local, local:N (N workers here) or a cluster's address (auto, "
        "ray://HEAD:10001); default: $STYLETRANSFER_RAY, else in this process (see the README's Ray section)",
    )
    parser.add_argument(
        "--ray-workers",
        metavar="N",
        help="workers on a cluster joined by address (default: $STYLETRANSFER_RAY_WORKERS, else one per GPU, or "
        "one per node)",
    )
    return parser.parse_args(argv)


def pool_setting(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> PoolSetting | None:
    """The Ray pool asked for by ``--ray`` (and ``--ray-workers``), else by the environment; ``None``: none."""
    if args.ray is None:
        return PoolSetting.from_environment(environ)
    return PoolSetting.parse(args.ray, args.ray_workers or environ.get(WORKERS_ENV))


def server_options(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Where to listen and whether to share: flags first, then Gradio's environment variables, then defaults."""
    port = args.port if args.port is not None else environ.get("GRADIO_SERVER_PORT", "").strip()
    return {
        "server_name": args.host or environ.get("GRADIO_SERVER_NAME", "").strip() or DEFAULT_HOST,
        "server_port": int(port) if port != "" else DEFAULT_PORT,
        "share": args.share or environ.get("GRADIO_SHARE", "").strip().lower() in _TRUE,
    }


def launch(demo: gr.Blocks, *, prevent_thread_lock: bool = False, **server: Any) -> None:
    """Serve ``demo`` with the app's theme, its threads sharing :data:`HEAP_ARENAS` heap arenas; ``server`` holds
    :func:`server_options`' keys."""
    limit_heap_arenas(HEAP_ARENAS)
    demo.launch(
        **server,
        **LAUNCH_STYLE,
        **launch_options(
            demo,
            max_upload=MAX_UPLOAD,
            sessions=SESSIONS_KEPT,
            sessions_per_visitor=SESSIONS_PER_VISITOR * jobs_per_visitor(),
        ),
        footer_links=["api", "settings"],
        prevent_thread_lock=prevent_thread_lock,
        quiet=prevent_thread_lock,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Load the weights once, warm the backbone up and fit the defaults to the device, and serve the page; with
    a Ray pool (``--ray``, ``STYLETRANSFER_RAY``), see :func:`pooled_studio`.

    On ZeroGPU there is no GPU outside a GPU call, so nothing is timed: the page keeps the GPU defaults (see the
    README's ZeroGPU section)."""
    logging.basicConfig(format="%(message)s")
    logger.setLevel(logging.INFO)
    args = parse_args(argv)
    server = server_options(args)
    setting = pool_setting(args)
    if setting is not None:
        launch(build_demo(pooled_studio(setting)), **server)
        return
    studio = Studio.from_environment()
    logger.info("Backbone ready: %s", studio.stylizer.description)
    if on_zero_gpu():
        logger.info("ZeroGPU: the GPU defaults, %s px; nothing timed at start-up", studio.defaults.size)
    else:
        studio.warm_up()
        fitted = studio.fit_defaults(target_seconds())
        logger.info("Default job: %s px, about %.0f s here", fitted.config.size, fitted.predicted_seconds)
    launch(build_demo(studio), **server)


def pooled_studio(setting: PoolSetting) -> Studio:
    """A studio whose jobs run on the Ray pool of ``setting``, its defaults fitted to a worker; this process keeps
    a CPU copy of the default backbone to check each job's inputs."""
    from webapp.pool import AppPool  # imports Ray

    pool = AppPool.start(setting)
    logger.info("Ray pool ready: %d workers, each %s", pool.size, pool.description)
    studio = Studio.from_environment(device="cpu", pool=pool)
    fitted = studio.fit_defaults(target_seconds())
    logger.info("Default job: %s px, about %.0f s on a worker", fitted.config.size, fitted.predicted_seconds)
    return studio


if __name__ == "__main__":
    main()
