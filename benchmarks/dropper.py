"""A visitor who goes away without a word: ``python -m benchmarks.dropper URL VISITOR INPUTS [--running]``.

Sends one ``/stylize`` job as the visitor ``VISITOR`` (its ``X-Forwarded-For``; the
server must trust 127.0.0.1 as a proxy), with ``INPUTS`` (JSON: the job's keyword
arguments, ``content`` and ``style`` as file paths), and waits until the server has it
waiting in its queue, or with ``--running`` until it runs. It then prints one line of
JSON (``{"state": "joined"}``, or ``{"state": "ended", "error": …, "status": …}`` if the
job ended first) and waits, its connection open, to be killed: the soak
(:mod:`benchmarks.soak`) kills it, so that the connection drops as a closed laptop's
does, with no cancel. Only ``gradio_client`` is imported, so that it starts quickly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import QueueError, Status

#: The statuses of a job whose generator has sent something: it runs.
RUNNING = {Status.ITERATING, Status.PROGRESS}
#: The inputs that are files.
FILES = ("content", "style")
#: The longest this waits for its job to be queued or to run (seconds).
PATIENCE = 300.0


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def wrapped(inputs: dict[str, Any]) -> dict[str, Any]:
    """A job's keyword arguments with its files (paths) wrapped for upload."""
    return {key: handle_file(value) if key in FILES else value for key, value in inputs.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """See the module's docstring."""
    parser = argparse.ArgumentParser(description="Send a job, say when the server has it, wait to be killed.")
    parser.add_argument("url")
    parser.add_argument("visitor")
    parser.add_argument("inputs", type=json.loads)
    parser.add_argument("--running", action="store_true", help="wait until the job runs, not only waits")
    args = parser.parse_args(argv)
    client = Client(args.url, verbose=False, headers={"X-Forwarded-For": args.visitor})
    job = client.submit(**wrapped(args.inputs), api_name="/stylize")
    wanted = RUNNING if args.running else {Status.IN_QUEUE, *RUNNING}
    wait_for(lambda: job.done() or job.status().code in wanted, PATIENCE)
    time.sleep(0.5)  # a refused job passes through the queue too, at once
    if job.done():
        try:
            status, error = str(job.result()[2]), None
        except (AppError, QueueError) as refused:  # a refusal, or "Queue is full"
            status, error = "", str(refused)
        print(json.dumps({"state": "ended", "error": error, "status": status}), flush=True)
    else:
        print(json.dumps({"state": "joined"}), flush=True)
    time.sleep(PATIENCE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
