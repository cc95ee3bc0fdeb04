"""The engine runs ahead of the page (:func:`webapp.prefetch.prefetched`): events in order, made while the consumer
waits, errors raised where they are consumed, and closing stops the source in its own thread before it returns."""

from __future__ import annotations

import threading

import pytest

from webapp.prefetch import prefetched


def test_the_events_come_in_order_and_are_made_while_the_consumer_waits():
    made_all = threading.Event()

    def source():
        yield from range(5)
        made_all.set()

    events = prefetched(source())
    assert next(events) == 0
    assert made_all.wait(10), "the source did not run ahead of its consumer"
    assert list(events) == [1, 2, 3, 4]


def test_what_the_source_raises_is_raised_where_it_is_consumed():
    def source():
        yield "first"
        raise MemoryError("out of memory at 4096 px")

    events = prefetched(source())
    assert next(events) == "first"
    with pytest.raises(MemoryError, match="4096 px"):
        next(events)


def test_closing_stops_the_source_in_its_own_thread_before_it_returns():
    closed_in: list[str] = []
    made = threading.Semaphore(0)

    def endless():
        try:
            while True:
                made.release()
                yield "an iteration"
        finally:
            closed_in.append(threading.current_thread().name)

    events = prefetched(endless())
    next(events)
    made.acquire()
    events.close()
    assert closed_in == ["engine events"]  # closed, and not in this thread
