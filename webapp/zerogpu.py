"""What a job sends to the device and gets back, and how it gets there on a Hugging Face ZeroGPU Space.

On ZeroGPU, ``spaces.GPU`` runs the decorated function in a forked process that holds a GPU, and sends it the
call's arguments, and the main process each value it yields, through multiprocessing queues: both must pickle
(``spaces/zero/wrappers.py``). So the GPU function, :meth:`webapp.jobs.Studio.paint`, takes one
:class:`Request` (paths, settings, masks) and yields the engine's :class:`~styletransfer.Progress` events (numbers
and PIL images) and at most one :class:`Failure`. The session's :class:`~webapp.job.Job`, the device lock and Stop
stay in the main process; Stop closes the generator the GPU function's caller iterates, and ``spaces`` then sets a
stop event that the GPU process checks after each value the function yields, and closes it there.
Elsewhere the decorator is a no-op and the same function runs in the main process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from styletransfer import StyleConfig

from .masks import UserRegions

#: ZeroGPU may hold a GPU this long (seconds) for one job; the GPU bounds hold jobs to 110 s.
GPU_SECONDS = 120


@dataclass(frozen=True)
class Request:
    """Everything the device needs for one job, and nothing that cannot pickle."""

    backbone: str
    """The :data:`~webapp.options.BACKBONES` key of the weights to use."""
    content: str | bytes
    """The photo's file (Gradio's upload cache, on the same machine's disk), or its bytes for a worker that may be
    on another machine (:mod:`webapp.pool`); the same for the styles and the mask files."""
    styles: tuple[str | bytes, ...]
    config: StyleConfig
    regions: UserRegions
    display_size: tuple[int, int]
    """The (width, height) previews are sent at (see :func:`~webapp.render.display_size`); the final picture
    comes at its full size."""


@dataclass(frozen=True)
class Failure:
    """The job could not go on (bad settings or images, too big, out of memory): the message for the page. Sent
    as a value, since ZeroGPU replaces an exception's message by its class name on the way back."""

    message: str


def on_zero_gpu() -> bool:
    """Whether this is a ZeroGPU Space: ``spaces`` is installed and says so (``SPACES_ZERO_GPU``)."""
    try:
        from spaces.config import Config
    except ImportError:
        return False
    return Config.zero_gpu


def gpu_decorator() -> Callable[[Callable], Callable]:
    """``spaces.GPU`` where ``spaces`` is installed (it changes nothing off a ZeroGPU Space); elsewhere a no-op."""
    try:
        import spaces
    except ImportError:
        return lambda fn: fn
    return spaces.GPU(duration=GPU_SECONDS)
