"""A long soak: ``python -m benchmarks.soak --minutes 30 --clients 20``.

Starts the app in a process of its own (:class:`~benchmarks.server.AppProcess`: bundled
weights, small jobs), with 127.0.0.1 declared a trusted proxy so that each client, a
thread here, is a visitor of its own (its ``X-Forwarded-For``), and the files a job
leaves kept ``--keep-files`` seconds (``STYLETRANSFER_KEEP_FILES``), so that a run of
half an hour shows whether the folders level off. Until the time is up each client
does, one after the other, one of:

* ``good``: a small job on a photo of its own (a new picture and seed each time, so that
  no two uploads or results are the same file), waited for: it must be done;
* ``bad``: a broken upload or a setting out of range: it must be refused with a message
  that names it;
* ``cancel``: a longer job cancelled through ``gradio_client``, while it waits or while it
  runs: it must end cancelled (or done, if it ended first);
* ``drop``: a longer job sent from a process of its own that is killed while the job waits
  or runs, so that its connection drops with no cancel;
* ``second``: a job, and at once another from a second session of the same visitor: the
  second must be refused with the fair queue's message.

After a cancel or a drop the visitor's next job must be let in within :data:`FREE_GUARD`
seconds (the server let the old one go); "Queue is full" is a clear refusal too. A job
that ends any other way is ``failed`` (a good job refused, a bad one's message that does
not name it) or ``lost`` (no answer within :data:`JOB_GUARD` seconds, a broken
connection, a visitor never let in again).

Every ``--sample-every`` seconds the server is read from ``/proc``: resident memory, open
descriptors, threads; the size of Gradio's temporary folder and of the app's downloads
folder; and the queue's length (``/gradio_api/queue/status``). It passes (see
:func:`verdicts`) with no job failed or lost, resident memory within 5 % of its level at
the end of the warm-up (the first 5 minutes, or the first half of a run shorter than 10
minutes, whose memory still rises through its first minute as sessions and caches fill;
the level is the median of the minute from there) ever after (in a run that short, the
median of the last third of the samples: see :data:`LONG_RUN`), descriptors, threads and
folders not growing (the mean of the last third of the samples at most a little above the
middle third's), and a normal job done after the run.
``--json`` writes the samples and jobs, ``--plot`` a PNG of them over time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gradio_client import Client
from gradio_client.client import Job
from gradio_client.exceptions import AppError
from gradio_client.utils import QueueError, Status
from PIL import Image

from webapp.fair_queue import refusal
from webapp.sweeper import KEEP_FILES_ENV
from webapp.visitors import TRUSTED_PROXIES_ENV

from .dropper import RUNNING, wait_for, wrapped
from .fuzz import normal_job
from .server import AppProcess

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
#: A good job: one scale, a few iterations, previews (so that it writes a progress video too).
JOB = {"size": 64, "multiscale": False, "iterations": 4, "preview_every": 2}
#: A job cancelled or dropped before it ends (it would take some seconds).
LONG = {**JOB, "iterations": 150, "preview_every": 10}
#: How often each action is picked.
ACTIONS = {"good": 10, "bad": 3, "cancel": 3, "drop": 2, "second": 2}
#: A job with no answer after this long (seconds) is lost.
JOB_GUARD = 180.0
#: After a cancel or a drop, the visitor's next job must be let in within this long (seconds).
FREE_GUARD = 60.0
#: The longest warm-up (seconds): memory is judged from then on.
WARMUP = 300.0
#: Runs at least this long (minutes) judge every memory sample after the warm-up; shorter ones (CI's 2 minutes) the
#: median of the last third of the samples, since single samples swing by ±5 % (50 MB) from one to the next, which
#: is noise over so few minutes, not growth.
LONG_RUN = 10.0
#: Memory's level at the end of the warm-up is the median of the samples this long (seconds) from there.
LEVEL_SPAN = 60.0
#: What the fair queue says to a visitor who has a job already, and Gradio when the queue is full.
ONE_JOB = refusal(1).rstrip(".")
BUSY = "Queue is full"
OUTCOMES = ("done", "refused", "busy", "one job", "cancelled", "dropped", "failed", "lost")
FAILURES = ("failed", "lost")
#: The table's rows: the actions, and the jobs sent again after a cancel or a drop until let in.
KINDS = {**{action: action for action in ACTIONS}, "next": "next, after a cancel or drop"}


@dataclass
class JobRecord:
    """One job: its client, action, when it was sent and ended (seconds into the soak), and how it ended."""

    client: int
    kind: str
    sent: float
    ended: float = 0.0
    outcome: str = "lost"
    note: str = ""
    freed_after: float | None = None
    """After a cancel or a drop: seconds until the visitor's next job was let in."""


@dataclass(frozen=True)
class Sample:
    """The server, read at ``seconds`` into the soak."""

    seconds: float
    rss_mb: float
    fds: int
    threads: int
    temp_mb: float
    temp_files: int
    downloads_mb: float
    queue: int


@dataclass
class Soak:
    """What a soak saw; see the module's docstring."""

    minutes: float
    clients: int
    keep_files: float
    warmup: float
    samples: list[Sample] = field(default_factory=list)
    jobs: list[JobRecord] = field(default_factory=list)
    after: bool = False
    """Whether a normal job was done after the run."""


# ---------------------------------------------------------------------------------------------------------------
# The server, from outside


def read_server(server: AppProcess, downloads: Path, seconds: float) -> Sample:
    """One :class:`Sample` of ``server``'s process, folders and queue."""
    status = Path(f"/proc/{server.pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    temp_bytes, temp_files = folder_size(server.temp_dir)
    try:
        with urllib.request.urlopen(server.url + "gradio_api/queue/status", timeout=10) as answer:
            queue = int(json.load(answer)["queue_size"])
    except OSError:
        queue = -1
    return Sample(
        seconds=round(seconds, 1),
        rss_mb=int(fields["VmRSS"].split()[0]) / 1024,
        fds=len(os.listdir(f"/proc/{server.pid}/fd")),
        threads=int(fields["Threads"]),
        temp_mb=temp_bytes / 2**20,
        temp_files=temp_files,
        downloads_mb=folder_size(downloads)[0] / 2**20,
        queue=queue,
    )


def folder_size(folder: Path) -> tuple[int, int]:
    """The bytes and the number of files under ``folder`` (files may vanish while it is walked)."""
    total = count = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
                count += 1
            except FileNotFoundError:
                continue
    return total, count


# ---------------------------------------------------------------------------------------------------------------
# Clients


def photo(rng: random.Random, folder: Path) -> str:
    """A new small photo (random colours and size), written to ``folder``; its path."""
    width = rng.randint(72, 120)
    height = rng.randint(width // 2 + 8, width)  # never too thin for the network at 64 px
    x = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    colours = np.array([rng.random() for _ in range(6)]).reshape(2, 1, 1, 3)
    picture = (colours[0] * x + colours[1] * y) % 1.0 * 255
    path = folder / f"photo-{rng.randrange(10**9)}.png"
    Image.fromarray(picture.astype(np.uint8), "RGB").save(path)
    return str(path)


def bad_inputs(folder: Path) -> list[tuple[str, dict[str, Any], str]]:
    """The bad jobs: a description, what replaces a good job's inputs, and what the refusal must say."""
    truncated = folder / "truncated.png"
    Image.open(EXAMPLES / "coffee.jpg").save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:2000])
    renamed = folder / "document.jpg"
    renamed.write_bytes(b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF")
    return [
        ("truncated photo", {"content": str(truncated)}, "content image"),
        ("PDF as the painting", {"style": str(renamed)}, "style image"),
        ("size 5000", {"size": 5000}, "Setting 'size'"),
        ("iterations -3", {"iterations": -3}, "Setting 'iterations'"),
    ]


def judged(error: str | None, status: str, expected: str | None = None) -> str:
    """The outcome of a job that ended with ``error`` (``None``: none) and the status line ``status``,
    ``expected`` being what its refusal must say if it is to be refused."""
    if error is None:
        return "done" if expected is None and status.startswith("**Done**") else "failed"
    if ONE_JOB in error:
        return "one job"
    if BUSY in error:
        return "busy"
    return "refused" if expected is not None and expected in error else "failed"


def ending(job: Job, expected: str | None = None) -> tuple[str, str]:
    """Wait for ``job`` to end: its outcome and what it said (cut short)."""
    try:
        _, _, status, *_ = job.result(timeout=JOB_GUARD)
    except FutureTimeout:
        return "lost", f"no answer in {JOB_GUARD:.0f} s"
    except (AppError, QueueError) as error:  # a refusal; or "Queue is full", refused when it asked to join
        return judged(str(error), "", expected), str(error)[:200]
    except Exception as error:  # a cancelled job's future, a broken connection
        if isinstance(error, CancelledError) or job.status().code == Status.CANCELLED:
            return "cancelled", ""
        return "lost", f"{type(error).__name__}: {error}"[:200]
    if job.status().code == Status.CANCELLED:
        return "cancelled", ""
    return judged(None, str(status), expected), "" if expected is None else f"done: {expected!r} expected"


def _report(process: subprocess.Popen, timeout: float) -> dict[str, Any]:
    """The dropping client's report (see :mod:`benchmarks.dropper`): its first line of JSON, within ``timeout``
    seconds; empty if it said none."""
    deadline = time.monotonic() + timeout
    while select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
        line = process.stdout.readline()
        if not line:
            break  # it ended
        try:
            return json.loads(line)
        except ValueError:
            continue  # something else it printed
    return {}


class SoakClient:
    """One visitor: a thread that does one action after another until a deadline."""

    def __init__(self, index: int, url: str, start: float, folder: Path, record: Callable[[JobRecord], None]) -> None:
        self.index, self.url, self.start, self.record = index, url, start, record
        self.visitor = f"198.51.100.{index + 1}"  # a documentation range (TEST-NET-2): no real host
        self.rng = random.Random(index)
        self.folder = folder / f"client-{index}"
        self.folder.mkdir(parents=True)
        self.bad_jobs = bad_inputs(self.folder)
        self.client = Client(url, verbose=False, headers={"X-Forwarded-For": self.visitor})
        self.other_session: Client | None = None

    def close(self) -> None:
        """Close the visitor's sessions."""
        for client in (self.client, self.other_session):
            if client is not None:
                client.close()

    def now(self) -> float:
        """Seconds into the soak."""
        return time.monotonic() - self.start

    def inputs(self, settings: dict[str, Any]) -> dict[str, Any]:
        """A job's inputs: a new photo, the swirls, a random seed, then ``settings``."""
        style = str(EXAMPLES / "style_swirls.jpg")
        return {"content": photo(self.rng, self.folder), "style": style, "seed": self.rng.randrange(1000), **settings}

    def submit(self, inputs: dict[str, Any], client: Client | None = None) -> Job:
        """Send a ``/stylize`` job."""
        return (client or self.client).submit(**wrapped(inputs), api_name="/stylize")

    def finish(self, job: Job, record: JobRecord, expected: str | None = None) -> JobRecord:
        """Wait for ``job`` to end and record how it did."""
        record.outcome, record.note = ending(job, expected)
        record.ended = self.now()
        self.record(record)
        return record

    def run(self, deadline: float) -> None:
        """Act until ``deadline`` (monotonic seconds)."""
        actions = list(ACTIONS)
        while time.monotonic() < deadline:
            getattr(self, self.rng.choices(actions, [ACTIONS[a] for a in actions])[0])()

    def good(self, kind: str = "good") -> JobRecord:
        """A small job, waited for."""
        record = JobRecord(self.index, kind, self.now())
        return self.finish(self.submit(self.inputs(JOB)), record)

    def bad(self) -> None:
        """A job with a broken file or a setting out of range."""
        description, changes, expected = self.rng.choice(self.bad_jobs)
        record = JobRecord(self.index, "bad", self.now())
        self.finish(self.submit({**self.inputs(JOB), **changes}), record, expected)
        record.note = f"{description}: {record.note}"

    def second(self) -> None:
        """A job, and once it is in the queue another from a second session of the same visitor."""
        if self.other_session is None:
            self.other_session = Client(self.url, verbose=False, headers={"X-Forwarded-For": self.visitor})
        first = JobRecord(self.index, "good", self.now())
        job = self.submit(self.inputs(JOB))
        wait_for(lambda: job.done() or job.status().code not in (Status.STARTING, Status.JOINING_QUEUE), JOB_GUARD)
        self.finish(self.submit(self.inputs(JOB), self.other_session), JobRecord(self.index, "second", self.now()))
        self.finish(job, first)

    def cancel(self) -> None:
        """A long job cancelled while it waits, or a moment after it starts running. (Not before the server has
        answered its request to join the queue: ``gradio_client`` then has no event to name, and the job runs on,
        cancelled only on the client's side.)"""
        running = self.rng.random() < 0.5
        record = JobRecord(self.index, "cancel", self.now())
        job = self.submit(self.inputs(LONG))
        joined = RUNNING if running else {Status.IN_QUEUE, Status.PROCESSING, *RUNNING}
        wait_for(lambda: job.done() or job.status().code in joined, JOB_GUARD)
        time.sleep(self.rng.uniform(0.2, 2.0))
        if not job.done():
            job.cancel()
        record.outcome, record.note = ending(job)
        record.note = record.note or ("while running" if running else "while waiting")
        self.let_in_again(record)

    def drop(self) -> None:
        """A long job from a process that is killed once the job waits, or runs: its connection drops."""
        running = self.rng.random() < 0.5
        record = JobRecord(self.index, "drop", self.now(), note="while running" if running else "while waiting")
        command = [sys.executable, "-m", "benchmarks.dropper", self.url, self.visitor, json.dumps(self.inputs(LONG))]
        process = subprocess.Popen(
            [*command, *(["--running"] if running else [])], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        try:
            said = _report(process, JOB_GUARD + 30)
            time.sleep(self.rng.uniform(0.0, 1.0))
        finally:
            process.kill()
            process.wait()
        if said.get("state") == "joined":
            record.outcome = "dropped"
        elif said.get("state") == "ended":
            record.outcome, record.note = judged(said["error"], said["status"]), str(said["error"])[:200]
        else:
            record.note = "the dropping client said nothing"
        self.let_in_again(record)

    def let_in_again(self, record: JobRecord) -> None:
        """Record a cancel's or a drop's ``record``. If it was cancelled or dropped, send the visitor's next job
        again and again while the fair queue still counts that one: ``record`` says how long it took until one was
        let in, or becomes ``lost`` after :data:`FREE_GUARD` seconds."""
        record.ended = self.now()
        if record.outcome in ("cancelled", "dropped"):
            gone = time.monotonic()
            while True:
                sent = time.monotonic()
                if self.good("next").outcome != "one job":
                    record.freed_after = round(sent - gone, 2)
                    break
                if time.monotonic() - gone > FREE_GUARD:
                    record.outcome, record.note = "lost", f"its visitor was not let in again for {FREE_GUARD:.0f} s"
                    break
                time.sleep(1.0)
        self.record(record)


# ---------------------------------------------------------------------------------------------------------------
# Running and judging


def soak(
    minutes: float,
    clients: int,
    folder: Path,
    *,
    keep_files: float,
    sample_every: float = 10.0,
    log: Callable[[str], None] = print,
) -> Soak:
    """Run a soak of ``minutes`` with ``clients`` against a fresh server under ``folder``."""
    duration = minutes * 60
    result = Soak(minutes, clients, keep_files, warmup=min(WARMUP, duration / 2))
    downloads = folder / "server" / "tmp"
    downloads.mkdir(parents=True)
    environ = {
        **os.environ,
        TRUSTED_PROXIES_ENV: "127.0.0.1",
        KEEP_FILES_ENV: str(keep_files),
        "TMPDIR": str(downloads),
    }
    lock = threading.Lock()

    def record(job: JobRecord) -> None:
        with lock:
            result.jobs.append(job)
            if job.outcome in FAILURES:
                log(f"{job.ended:7.1f} s  client {job.client} {job.kind}: {job.outcome}: {job.note}")

    with AppProcess(folder / "server", environ=environ) as server:
        start = time.monotonic()
        deadline = start + duration
        people = [SoakClient(index, server.url, start, folder / "clients", record) for index in range(clients)]
        threads = [threading.Thread(target=person.run, args=(deadline,), daemon=True) for person in people]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads) and server.alive():
            result.samples.append(read_server(server, downloads, time.monotonic() - start))
            sample = result.samples[-1]
            log(
                f"{sample.seconds:7.1f} s  {len(result.jobs)} jobs, RSS {sample.rss_mb:.0f} MB, {sample.fds} fds, "
                f"{sample.threads} threads, temp {sample.temp_mb:.1f} MB, queue {sample.queue}"
            )
            time.sleep(sample_every)
        for thread in threads:
            thread.join(JOB_GUARD + FREE_GUARD)
        for person in people:
            person.close()
        result.after = server.alive() and normal_job(Client(server.url, verbose=False))
    return result


def growth(series: Sequence[float]) -> tuple[float, float]:
    """The mean of ``series``' middle third and of its last third."""
    third = max(1, len(series) // 3)
    return statistics.fmean(series[third : 2 * third] or series), statistics.fmean(series[-third:])


def verdicts(result: Soak) -> list[tuple[str, bool, str]]:
    """Each pass criterion: its name, whether it holds, and the figures."""
    failed = [job for job in result.jobs if job.outcome in FAILURES]
    after = [s for s in result.samples if s.seconds >= result.warmup]
    checks = [(f"no job lost ({len(result.jobs)} jobs)", not failed, f"{len(failed)} failed or lost")]
    if not after:
        return [*checks, ("samples after the warm-up", False, "none")]
    level = statistics.median(s.rss_mb for s in after if s.seconds <= result.warmup + LEVEL_SPAN)
    long_run = result.minutes >= LONG_RUN
    last_third = after[-max(1, len(after) // 3) :]
    judged = [s.rss_mb for s in after] if long_run else [statistics.median(s.rss_mb for s in last_third)]
    worst = max(abs(rss - level) / level for rss in judged)
    checks.append(
        (
            f"memory within 5 % of its level at {result.warmup / 60:g} min"
            + ("" if long_run else " (last third's median)"),
            worst <= 0.05,
            f"{level:.0f} MB then, {min(s.rss_mb for s in after):.0f}-{max(s.rss_mb for s in after):.0f} MB after "
            f"({worst:.1%} {'at most' if long_run else 'off'})",
        )
    )
    for name, values, slack, share in [
        ("descriptors", [s.fds for s in after], 8, 0.10),
        ("threads", [s.threads for s in after], 3, 0.10),
        ("Gradio's temporary folder (MB)", [s.temp_mb for s in after], 1.0, 0.25),
        ("downloads folder (MB)", [s.downloads_mb for s in after], 1.0, 0.25),
    ]:
        middle, last = growth(values)
        checks.append(
            (
                f"{name} not growing",
                last <= middle * (1 + share) + slack,
                f"mean {middle:.1f} in the middle third, {last:.1f} in the last (allowed +{share:.0%} +{slack:g})",
            )
        )
    checks.append(("a normal job done after", result.after, "done" if result.after else "FAILED"))
    return checks


def table(result: Soak) -> str:
    """Jobs by action and outcome, as a Markdown table, with good jobs' latency."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for job in result.jobs:
        counts[job.kind][job.outcome] += 1
    columns = [o for o in OUTCOMES if any(c[o] for c in counts.values()) or o in FAILURES]
    lines = ["| action | jobs | " + " | ".join(columns) + " |", "|---|---:|" + "---:|" * len(columns)]
    for kind, label in KINDS.items():
        if kind in counts:
            row = counts[kind]
            lines.append(f"| {label} | {sum(row.values())} | " + " | ".join(str(row[o]) for o in columns) + " |")
    total = Counter(job.outcome for job in result.jobs)
    lines.append(f"| **all** | **{len(result.jobs)}** | " + " | ".join(f"**{total[o]}**" for o in columns) + " |")
    done = sorted(job.ended - job.sent for job in result.jobs if job.kind == "good" and job.outcome == "done")
    freed = [job.freed_after for job in result.jobs if job.freed_after is not None]
    if done:
        lines.append(
            f"\nGood jobs done: {len(done)}, latency median {statistics.median(done):.1f} s, "
            f"95th percentile {done[int(0.95 * (len(done) - 1))]:.1f} s, longest {done[-1]:.1f} s."
        )
    if freed:
        lines.append(
            f"After a cancel or a drop the visitor was let in again within {max(freed):.1f} s "
            f"(median {statistics.median(freed):.1f} s, {len(freed)} times)."
        )
    return "\n".join(lines)


def summary(result: Soak) -> tuple[bool, str]:
    """Whether ``result`` passes, and its report: the table, the samples at start, warm-up and end, the verdicts."""
    lines = [
        f"Soak: {result.minutes:g} min, {result.clients} clients, files kept {result.keep_files:g} s.",
        "",
        table(result),
        "",
    ]
    if result.samples:
        warm = next((s for s in result.samples if s.seconds >= result.warmup), result.samples[-1])
        for label, sample in [("start", result.samples[0]), ("warm-up", warm), ("end", result.samples[-1])]:
            lines.append(
                f"{label:>8} ({sample.seconds:6.0f} s): RSS {sample.rss_mb:.0f} MB, {sample.fds} fds, "
                f"{sample.threads} threads, temp {sample.temp_mb:.1f} MB in {sample.temp_files} files, "
                f"downloads {sample.downloads_mb:.1f} MB, queue {sample.queue}"
            )
        lines.append("")
    checks = verdicts(result)
    lines += [f"{'pass' if ok else 'FAIL'}: {name}: {detail}" for name, ok, detail in checks]
    return all(ok for _, ok, _ in checks), "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: see the module's docstring. Exit status 0 when the soak passes."""
    parser = argparse.ArgumentParser(description="Soak the app: many clients, mixed jobs, the server watched.")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=20, help="at most 250")
    parser.add_argument("--keep-files", type=float, default=300.0, help="seconds the server keeps a job's files")
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds between samples of the server")
    parser.add_argument("--json", type=Path, help="write the samples and jobs here")
    parser.add_argument("--plot", type=Path, help="write a PNG of the samples and jobs over time here")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 250:
        parser.error("--clients must be between 1 and 250")
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        result = soak(
            args.minutes, args.clients, Path(folder), keep_files=args.keep_files, sample_every=args.sample_every
        )
    passed, text = summary(result)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=1))
    if args.plot:
        from .soak_plot import plot_soak

        plot_soak(result, args.plot)
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
