"""The server's threads share a bounded number of glibc heap arenas (counted with glibc's own ``malloc_info``)."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or "libc.so" not in (ctypes.util.find_library("c") or ""),
    reason="heap arenas are glibc's",
)

#: A process whose eight threads allocate at the same moment; prints how many heaps glibc then reports.
ARENAS_AFTER_THREADS = textwrap.dedent(
    """
    import ctypes, ctypes.util, sys, tempfile, threading
    from styletransfer.device import limit_heap_arenas
    if sys.argv[1] != "unlimited":
        assert limit_heap_arenas(int(sys.argv[1]))
    barrier = threading.Barrier(8)
    def allocate():
        barrier.wait()
        blocks = [bytearray(4096) for _ in range(2000)]
        barrier.wait()
    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.fopen.restype = ctypes.c_void_p
    with tempfile.NamedTemporaryFile(suffix=".xml") as report:
        stream = libc.fopen(report.name.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        print(open(report.name).read().count("<heap nr="))
    """
)


def heaps_after_threads(limit: str) -> int:
    """The heap arenas of a fresh process whose eight threads allocated at once, under ``limit``."""
    result = subprocess.run(
        [sys.executable, "-c", ARENAS_AFTER_THREADS, limit], capture_output=True, text=True, check=True
    )
    return int(result.stdout.strip())


def test_threads_share_the_arenas_the_limit_allows():
    # Without a limit, threads that allocate at once get arenas of their own.
    assert heaps_after_threads("unlimited") > 2
    assert heaps_after_threads("2") <= 2
