"""The engine runs ahead of the page: a job's events made in a thread of their own while Gradio sends the last ones.

Gradio drives a job's generator one output at a time: after each output it shows (a preview, or the status every
half second) it encodes and sends it, and only then asks for the next one. Were the engine run inside that generator,
it would wait through each of those pauses; on a 2-core AMX machine the 512 px square job took 61–68 s served and
51–54 s called directly. :func:`prefetched` runs the events' source in a thread of its own instead, so that the
engine iterates on while the page's outputs are handled, and hands the events over in order.

Those threads are kept from job to job (:func:`on_engine_thread`): the engine's first job in a thread runs slower
than its later ones there, as the thread's own state (its heap arena, its OpenMP team, oneDNN's per-thread caches)
is built up. On two AMX cores the 512 px square job took 28.6–30.6 s in a new thread, 25.1–25.5 s in a thread that
had run one before and 25.3–25.9 s in the main thread; with a new thread per job, every served job paid it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

Event = TypeVar("Event")


@dataclass(frozen=True)
class _Raised:
    """What the source raised, to be raised again where the events are consumed."""

    error: BaseException


_END = object()

_tasks: queue.SimpleQueue[tuple[Callable[[], None], threading.Event]] = queue.SimpleQueue()
_idle = threading.Semaphore(0)
"""One count for each engine thread that has finished its task and waits for the next."""


def on_engine_thread(task: Callable[[], None]) -> threading.Event:
    """Run ``task`` on an idle engine thread, or on a new one (kept afterwards) when none is idle; the event returned
    is set once the task has ended and its thread is idle again."""
    done = threading.Event()
    if not _idle.acquire(blocking=False):
        threading.Thread(target=_serve, name="engine events", daemon=True).start()
    _tasks.put((task, done))
    return done


def _serve() -> None:
    """An engine thread's life: one task after another (the process's exit ends it, as a daemon)."""
    while True:
        task, done = _tasks.get()
        try:
            task()
        finally:
            del task  # nothing of a finished job stays referenced while the thread waits
            _idle.release()
            done.set()


def prefetched(source: Iterator[Event]) -> Iterator[Event]:
    """``source``'s events, made on an engine thread (see :func:`on_engine_thread`) as fast as it makes them, in
    order; what it raises is raised here. Closing this generator stops the source after the event it is making (its
    own ``close`` is called in its thread) and returns once it has ended, so that the device is free when it
    returns."""
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

    ended = on_engine_thread(produce)
    try:
        while (event := events.get()) is not _END:
            if isinstance(event, _Raised):
                raise event.error
            yield event
    finally:
        stop.set()
        ended.wait()
