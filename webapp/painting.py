"""A job's work on its device: one function per kind of job, from one picklable request to the engine's events.

:func:`paint` (a photo) and :func:`paint_video` (a clip) take the loaded :class:`~webapp.backbones.Backbones`
and a :class:`~webapp.zerogpu.Request` (or :class:`~webapp.video_jobs.VideoRequest`), and yield the engine's
events and at most one :class:`~webapp.zerogpu.Failure`: only what pickles. The same functions run in the app's own
process, in ZeroGPU's GPU process (as :meth:`webapp.jobs.Studio.paint`) and on a Ray worker (:mod:`webapp.pool`).
Closing one closes the engine, which stops before its next iteration and frees the job's memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

import gradio as gr

from styletransfer import OutOfMemoryError, Progress
from styletransfer.video import VideoProgress

from . import render
from .zerogpu import Failure, Request

if TYPE_CHECKING:
    from .backbones import Backbones
    from .video_jobs import VideoRequest

Event = TypeVar("Event")


def paint(backbones: Backbones, request: Request) -> Iterator[Progress | Failure]:
    """Run the engine for ``request`` and yield its events, the previews at the request's display size and the
    final picture at full size; a job that cannot go on ends with a :class:`~webapp.zerogpu.Failure`."""

    def events() -> Iterator[Progress]:
        stylizer = backbones.get(request.backbone)
        engine = stylizer.stylize(
            request.content, list(request.styles), request.config, **request.regions.engine_arguments()
        )
        with closing(engine):
            for event in engine:
                if event.image is not None and not event.final:
                    event = replace(event, image=render.at_size(event.image, request.display_size))
                yield event

    yield from _failing_readably(events())


def paint_video(backbones: Backbones, request: VideoRequest) -> Iterator[VideoProgress | Failure]:
    """The engine's events for the clip of ``request`` (frames at full size), or a :class:`~webapp.zerogpu.Failure`."""

    def events() -> Iterator[VideoProgress]:
        stylizer = backbones.get(request.backbone)
        yield from stylizer.stylize_video(request.video, list(request.styles), request.config)

    yield from _failing_readably(events())


def _failing_readably(events: Iterator[Event]) -> Iterator[Event | Failure]:
    """``events``, or once they cannot go on a :class:`~webapp.zerogpu.Failure` with the message for the page."""
    try:
        with closing(events):
            yield from events
    except (ValueError, OutOfMemoryError) as error:  # settings or images the engine cannot use; too big
        yield Failure(str(error))
    except gr.Error as error:  # the weights of a backbone could not be loaded
        yield Failure(error.message)
