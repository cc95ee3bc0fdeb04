"""The upload folder kept small over a long run: orphaned temporary files, old files, empty folders.

Gradio writes each upload to a ``tmp…`` file at the top of its upload folder and
then moves it into a folder of its own; an upload aborted half-way leaves its
``tmp…`` file behind, and Gradio's own clean-up (``delete_cache``, not used) removes
only the files it listed, none of the folders, and the uploads of a job still waiting
alike. :class:`UploadSweeper` removes the orphans whenever no upload is in flight (the
folder must be this server's alone: ``GRADIO_TEMP_DIR``, where Gradio also keeps its
copies of the results), and, every :attr:`~UploadSweeper.interval` seconds, files
older than :attr:`~UploadSweeper.max_age`, the oldest beyond
:attr:`~UploadSweeper.max_bytes` in all, and folders left empty, sparing the files
that :attr:`~UploadSweeper.keep` names (the page's own, and the queued jobs'). How
long files are kept is one setting (:func:`keep_files_seconds`), for this folder and
the app's downloads alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import anyio

GB = 2**30
#: How long (seconds) the files a job leaves (uploads, results, downloads) are kept; 3600 when unset. A long soak
#: sets it shorter, to see the folders level off.
KEEP_FILES_ENV = "STYLETRANSFER_KEEP_FILES"
#: How long an empty folder is left: Gradio makes an upload's folder just before it moves the file in.
EMPTY_FOLDER_AGE = 60.0


def keep_files_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """The setting :data:`KEEP_FILES_ENV` (default 3600 s); raises ``ValueError`` naming a bad value."""
    text = environ.get(KEEP_FILES_ENV, "").strip() or "3600"
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 10 <= seconds < math.inf:
        raise ValueError(f"{KEEP_FILES_ENV} must be a number of seconds, at least 10, not {text[:20]!r}.")
    return seconds


def sweep_interval(keep_seconds: float) -> float:
    """How often to sweep files kept ``keep_seconds``: every 5 minutes, or a quarter of that time if shorter."""
    return min(300.0, keep_seconds / 4)


class UploadSweeper:
    """Keeps ``folder`` (Gradio's upload folder) small; see the module's docstring. ``keep`` gives the files never
    to remove."""

    def __init__(
        self,
        folder: str | Path,
        *,
        keep: Callable[[], set[str]] = set,
        max_age: float = 3600.0,
        max_bytes: int = 4 * GB,
        interval: float = 300.0,
    ) -> None:
        self.folder = Path(folder)
        self.keep = keep
        self.max_age, self.max_bytes, self.interval = max_age, max_bytes, interval
        self._in_flight = 0
        self._lock = threading.Lock()

    def upload_begins(self) -> None:
        """An upload request has started."""
        with self._lock:
            self._in_flight += 1

    def upload_ends(self) -> None:
        """An upload request has ended, however it ended; the last one out removes the orphans."""
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self.remove_orphans()

    def remove_orphans(self) -> None:
        """Remove the ``tmp…`` files at the top of the folder: with no upload in flight, none is being written."""
        with contextlib.suppress(FileNotFoundError), os.scandir(self.folder) as entries:
            for entry in entries:
                if entry.name.startswith("tmp") and entry.is_file(follow_symlinks=False):
                    Path(entry.path).unlink(missing_ok=True)

    def sweep(self, now: float | None = None) -> None:
        """Remove files older than :attr:`max_age`, then the oldest until :attr:`max_bytes` are left, then the
        folders left empty for a minute; the files of :attr:`keep` stay."""
        now = time.time() if now is None else now
        keep = {str(Path(path).resolve()) for path in self.keep()}
        files = []
        for root, _, names in os.walk(self.folder):
            for name in names:
                path = Path(root, name)
                with contextlib.suppress(FileNotFoundError):
                    if str(path.resolve()) not in keep:
                        stat = path.lstat()
                        files.append((stat.st_mtime, stat.st_size, path))
        files.sort()
        total = sum(size for _, size, _ in files)
        for modified, size, path in files:
            if modified > now - self.max_age and total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
        for root, folders, names in os.walk(self.folder, topdown=False):
            path = Path(root)
            if path != self.folder and not folders and not names:
                with contextlib.suppress(OSError):  # not empty any more, or gone
                    if path.stat().st_mtime < now - EMPTY_FOLDER_AGE:
                        path.rmdir()

    async def run(self) -> None:
        """Sweep every :attr:`interval` seconds, in a worker thread, until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            await anyio.to_thread.run_sync(self.sweep)
