"""The engine runs ahead of the page: a job's events made in a thread of their own while Gradio sends the last ones.

Gradio drives a job's generator one output at a time: after each output it shows (a preview, or the status every
half second) it encodes and sends it, and only then asks for the next one. Were the engine run inside that generator,
it would wait through each of those pauses; on a 2-core AMX machine the 512 px square job took 61–68 s served and
51–54 s called directly. :func:`prefetched` runs the events' source in a thread of its own instead, so that the
engine iterates on while the page's outputs are handled, and hands the events over in order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

Event = TypeVar("Event")


@dataclass(frozen=True)
class _Raised:
    """What the source raised, to be raised again where the events are consumed."""

    error: BaseException


_END = object()


def prefetched(source: Iterator[Event]) -> Iterator[Event]:
    """``source``'s events, made in a thread of their own as fast as it makes them, in order; what it raises is
    raised here. Closing this generator stops the source after the event it is making (its own ``close`` is
    called in its thread) and returns once it has ended, so that the device is free when it returns."""
    events: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()

    def produce() -> None:
        try:
            for event in source:
                events.put(event)
                if stop.is_set():
                    break
        except BaseException as error:
            events.put(_Raised(error))
        finally:
            try:
                close = getattr(source, "close", None)
                if close is not None:
                    close()
            finally:
                events.put(_END)

    thread = threading.Thread(target=produce, name="engine events", daemon=True)
    thread.start()
    try:
        while (event := events.get()) is not _END:
            if isinstance(event, _Raised):
                raise event.error
            yield event
    finally:
        stop.set()
        thread.join()
