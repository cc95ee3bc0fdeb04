"""A pool of Ray workers, each holding a loaded model on its own device, that run streaming jobs one at a time.

Optional: nothing here imports Ray until a pool starts (``pip install -r requirements-ray.txt``). A
:class:`PoolSetting` says where the workers run: ``local`` or ``local:N`` starts a Ray cluster on this machine,
anything else is the address of a running cluster to join (``auto``, ``ray://HEAD:10001``, ``HEAD:6379``). Each
worker is a Ray actor that calls ``load(device)`` once (a :class:`~styletransfer.Stylizer`, or the app's
backbones) on one GPU, or on a share of a node's cores; :meth:`WorkerPool.stream` runs a job there as a Ray
streaming generator and hands its values back as they come. A job closed early is cancelled and its worker waited
for; a worker whose process dies ends its job with :class:`WorkerLost` and is replaced by a fresh one.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, suppress
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

import torch

Held = TypeVar("Held")
Task = Callable[..., Iterator[Any]]
"""A job: given what a worker holds and the job's arguments (which must pickle), it yields what the job makes."""

#: The pool's setting: ``local``, ``local:N`` or a cluster's address; unset or empty, jobs run in the caller's process.
RAY_ENV = "STYLETRANSFER_RAY"
#: How many workers to start on a cluster joined by address (default: one per GPU, else one per node).
WORKERS_ENV = "STYLETRANSFER_RAY_WORKERS"
#: A local cluster's object store (bytes): pictures and previews are small, and the machine's memory is the jobs'.
LOCAL_OBJECT_STORE = 256 * 2**20
#: How long (seconds) a cancelled job's worker may take to finish its current iteration, or a new worker to load.
WAIT_SECONDS = 120.0

logger = logging.getLogger("styletransfer.pool")


class WorkerLost(RuntimeError):
    """The worker running a job died (killed, out of memory, its machine gone); a new one replaces it."""


@dataclass(frozen=True)
class PoolSetting:
    """Where the workers run and how many there are."""

    address: str | None
    """A running cluster's address, or ``None`` to start a Ray cluster on this machine."""
    workers: int | None = None
    """``None``: one per GPU, else one (on this machine) or one per node (on a cluster)."""

    @classmethod
    def parse(cls, text: str | None, workers: int | str | None = None) -> PoolSetting | None:
        """The setting ``text`` stands for (``local``, ``local:N`` or an address), ``workers`` applying to an
        address; ``None`` for an empty one. Raises ``ValueError`` naming a bad worker count."""
        text = (text or "").strip()
        if not text:
            return None
        if text == "local" or text.startswith("local:"):
            count = text.partition(":")[2]
            return cls(None, _count(count, "local:N") if count else None)
        return cls(text, _count(str(workers), WORKERS_ENV) if workers not in (None, "") else None)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> PoolSetting | None:
        """The setting of :data:`RAY_ENV` and :data:`WORKERS_ENV`; ``None`` when unset."""
        return cls.parse(environ.get(RAY_ENV), environ.get(WORKERS_ENV))


def _count(text: str, name: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{name}: the number of workers must be a whole number of at least 1, not {text[:20]!r}.")
    return int(text)


class Layout(NamedTuple):
    """How many workers to start and what each one gets."""

    workers: int
    gpus: int
    """GPUs per worker: 1 or 0."""
    cores: int
    """Cores per worker (its torch threads on a CPU)."""


def plan_workers(setting: PoolSetting, gpus: int, cpus: int, nodes: int) -> Layout:
    """One worker per GPU when the cluster has GPUs (fewer if the setting asks), else the setting's count, or one
    per node, each with an even share of the cores. Raises ``ValueError`` when more GPU workers are asked for than
    there are GPUs."""
    if gpus:
        workers = setting.workers or gpus
        if workers > gpus:
            raise ValueError(f"{workers} workers were asked for, but the cluster has {gpus} GPUs (one each).")
        return Layout(workers, 1, max(1, cpus // workers))
    workers = setting.workers or (1 if setting.address is None else nodes)
    if cpus < workers:
        raise ValueError(f"{workers} workers were asked for, but the cluster has {cpus} free CPUs (one at least each).")
    return Layout(workers, 0, cpus // workers)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RuntimeError(
            "Ray is not installed: pip install -r requirements-ray.txt (or leave STYLETRANSFER_RAY unset)."
        ) from None
    return ray


class _Worker:
    """A Ray actor's state: what ``load`` made on this worker's device. Its methods run one at a time, in order."""

    def __init__(self, load: Callable[[str], Any], cores: int) -> None:
        ray = _ray()
        on_gpu = bool(ray.get_gpu_ids())  # Ray sets CUDA_VISIBLE_DEVICES to this worker's GPU
        if not on_gpu:
            torch.set_num_threads(cores)
        self.device = "cuda" if on_gpu else "cpu"
        self.held = load(self.device)

    def ready(self) -> int:
        """The worker's process id, once it is loaded and any job before this call has ended."""
        return os.getpid()

    def run(self, task: Task, args: tuple) -> Iterator[Any]:
        """``task``'s values, streamed; a cancelled job stops after the value it is at (one engine iteration)."""
        context = _ray().get_runtime_context()
        with closing(task(self.held, *args)) as values:
            for value in values:
                yield value
                if context.is_canceled():
                    return


@dataclass
class _Slot:
    """One worker: its actor and its process id."""

    actor: Any
    pid: int = 0


class WorkerPool(Generic[Held]):
    """Ray workers, each holding ``load(device)``, running one job at a time each. Build it once; :meth:`close` it."""

    def __init__(self, setting: PoolSetting, load: Callable[[str], Held]) -> None:
        """Start or join the cluster of ``setting`` and start its workers; returns once every one is loaded.
        ``load`` must pickle (a module-level function, or a ``functools.partial`` of one)."""
        self._ray = ray = _ray()
        self._started_ray = False
        cores_here = max(os.cpu_count() or 1, setting.workers or 1)  # more workers than cores share them
        if not ray.is_initialized():
            if setting.address is None:
                ray.init(
                    num_cpus=cores_here,
                    object_store_memory=LOCAL_OBJECT_STORE,
                    include_dashboard=False,
                    configure_logging=False,
                )
            else:
                ray.init(address=setting.address)
            self._started_ray = True
        free = ray.available_resources()  # a cluster shared with other pools offers what they leave
        nodes = sum(node["Alive"] for node in ray.nodes())
        cpus = cores_here if setting.address is None else int(free.get("CPU", 0))  # local: this machine's cores
        self.layout = plan_workers(setting, int(free.get("GPU", 0)), cpus, nodes)
        self._actor_class = ray.remote(_Worker).options(
            num_cpus=self.layout.cores, num_gpus=self.layout.gpus, max_restarts=0, scheduling_strategy="SPREAD"
        )
        self._load = load
        self._idle: queue.Queue[_Slot] = queue.Queue()
        self._busy: list[_Slot] = []
        self._slots = [_Slot(self._actor_class.remote(load, self.layout.cores)) for _ in range(self.layout.workers)]
        self._lock = threading.Lock()
        try:
            pids = ray.get([slot.actor.ready.remote() for slot in self._slots], timeout=WAIT_SECONDS)
        except ray.exceptions.GetTimeoutError:
            self.close()
            raise RuntimeError(
                f"{self.layout.workers} workers did not start within {WAIT_SECONDS:g} s (the cluster has "
                f"{ray.available_resources()} free)."
            ) from None
        for slot, pid in zip(self._slots, pids, strict=True):
            slot.pid = pid
            self._idle.put(slot)

    @property
    def size(self) -> int:
        """The number of workers: jobs that may run at once."""
        return self.layout.workers

    @property
    def device(self) -> torch.device:
        """The workers' kind of device: ``cuda`` or ``cpu``."""
        return torch.device("cuda" if self.layout.gpus else "cpu")

    @property
    def free(self) -> int:
        """Workers waiting for a job."""
        return self._idle.qsize()

    def busy(self) -> list[int]:
        """The process ids of the workers running a job."""
        with self._lock:
            return [slot.pid for slot in self._busy]

    def stream(self, task: Task, *args: Any) -> Iterator[Any]:
        """Run ``task(held, *args)`` on the next free worker (waiting for one) and yield its values as they come.

        Closing the generator cancels the job, which stops after its current value, and returns once the worker
        is free again. A worker that dies ends the job with :class:`WorkerLost` and is replaced."""
        ray = self._ray
        try:
            slot = self._idle.get(timeout=WAIT_SECONDS)
        except queue.Empty:
            raise WorkerLost(f"No worker became free within {WAIT_SECONDS:g} s; try again later.") from None
        with self._lock:
            self._busy.append(slot)
        values, finished, lost = None, False, None
        try:
            values = slot.actor.run.options(num_returns="streaming").remote(task, args)
            for ref in values:
                yield ray.get(ref)
            finished = True
        except ray.exceptions.RayActorError as error:
            lost = error
            raise WorkerLost(
                "The worker running this job stopped unexpectedly (its process was killed or ran out of memory); "
                "a new worker is starting. Please run the job again."
            ) from None
        finally:
            if lost is None and not finished and values is not None:
                lost = self._cancel(slot, values)
            with self._lock:
                self._busy.remove(slot)
            if lost is None:
                self._idle.put(slot)
            else:
                self._replace(slot)

    def call(self, task: Task, *args: Any) -> Any:
        """The last value of ``task``, run to its end as :meth:`stream` runs it."""
        return deque(self.stream(task, *args), maxlen=1).pop()

    def _cancel(self, slot: _Slot, values: Any) -> BaseException | None:
        """Cancel a job and wait until its worker has ended it (its next call runs only then); the error if the
        worker died or did not answer."""
        ray = self._ray
        ray.cancel(values)
        try:
            ray.get(slot.actor.ready.remote(), timeout=WAIT_SECONDS)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as error:
            return error
        return None

    def _replace(self, slot: _Slot) -> None:
        """End a lost worker's actor and start a new one in its place; it joins the free ones once loaded (a
        replacement that cannot load is logged, and the pool goes on with one worker fewer)."""
        ray = self._ray
        with suppress(Exception):
            ray.kill(slot.actor, no_restart=True)
        fresh = _Slot(self._actor_class.remote(self._load, self.layout.cores))
        with self._lock:
            self._slots[self._slots.index(slot)] = fresh

        def wait_loaded() -> None:
            try:
                fresh.pid = ray.get(fresh.actor.ready.remote(), timeout=WAIT_SECONDS)
            except ray.exceptions.RayError as error:
                logger.error("A replacement worker could not start: %s", error)
                return
            self._idle.put(fresh)

        threading.Thread(target=wait_loaded, name="replace-worker", daemon=True).start()

    def close(self) -> None:
        """End the workers, and the Ray cluster if this pool started it."""
        with self._lock:
            slots, self._slots = self._slots, []
        for slot in slots:
            with suppress(Exception):
                self._ray.kill(slot.actor, no_restart=True)
        if self._started_ray:
            self._ray.shutdown()
