"""A count of the engine work done in this process, for tests and monitoring."""

from __future__ import annotations

import threading


class WorkMeter:
    """Counts the engine work done in this process: jobs begun and ended, iterations run, most jobs at once.

    An iteration is counted when the engine has produced it, so the count is the
    work actually done, whatever happened to the job's outputs afterwards.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs_begun = 0
        self.jobs_ended = 0
        self.iterations = 0
        self.peak = 0

    def begin(self) -> None:
        """A job's engine generator was made."""
        with self._lock:
            self.jobs_begun += 1
            self.peak = max(self.peak, self.running)

    def iteration(self) -> None:
        """The engine finished one iteration."""
        with self._lock:
            self.iterations += 1

    def end(self) -> None:
        """A job's engine generator was closed (finished, failed or stopped)."""
        with self._lock:
            self.jobs_ended += 1

    @property
    def running(self) -> int:
        """Jobs whose engine generator has not been closed yet."""
        return self.jobs_begun - self.jobs_ended
