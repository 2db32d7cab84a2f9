"""Stage jobs on a Ray cluster: long-lived actors per job kind; hangs, raised errors and lost nodes become results."""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from hwbench.errors import HwbenchError
from hwbench.pipeline.executor import Batch, Resources, Tagged, Wire

try:
    import ray
    from ray import exceptions as rex
except ImportError as exc:  # the executor is chosen by name; say how to get it
    raise HwbenchError("--executor ray needs Ray: pip install -e '.[cluster]' on every node (docs/cluster.md)") from exc

MAX_REQUEUES = 2  # a job whose worker is lost a third time is recorded as an error, not run again
# The worker (process or node) went away, not the job's own code failing: the job runs again elsewhere.
LOST = (
    rex.RayActorError,
    rex.NodeDiedError,
    rex.WorkerCrashedError,
    rex.ObjectLostError,
    rex.LocalRayletDiedError,
    rex.OutOfMemoryError,
)
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
MAX_START_LOSSES = 10  # workers lost in a row before starting: the cluster cannot run this batch
CONNECT_TIMEOUT_S = 10.0
IDLE_CHECK_S = 10.0  # with nothing running, how often to check that the cluster can still place a worker


def _check_reachable(address: str, where: str) -> None:
    """Fail in seconds on a HOST:PORT nothing listens on (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "/" in host:
        return  # "auto", "ray://...": Ray's own forms
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise HwbenchError(f"{where}: no Ray head answers there ({exc}); start one with `ray start --head`") from exc


class JobWorker:
    """One Ray actor: runs jobs one at a time in a process that keeps its imports (torch, converters)."""

    def __init__(self, threads: int | None) -> None:
        if threads is not None:
            for var in THREAD_VARS:
                os.environ[var] = str(threads)
        self.node = {"node_id": ray.get_runtime_context().get_node_id(), "host": socket.gethostname()}

    def ready(self) -> dict[str, str]:
        """Where this worker runs; answering also says that it has started."""
        return self.node

    def run(self, fn: Callable[[Wire], Wire], job: Wire) -> Wire:
        """The job's result with the node that ran it; an exception is an error result and the worker lives on."""
        try:
            result = fn(job)
        except Exception as exc:
            result = {
                "status": "error",
                "error": f"{type(exc).__name__}: {exc}"[:2000],
                "traceback": traceback.format_exc()[-4000:],
            }
        return {**result, "executor": dict(self.node)}


_REMOTE_WORKER = ray.remote(JobWorker)


@dataclass
class _Running:
    tag: Any
    job: Wire
    requeues: int
    ref: Any
    started: float
    seconds: float


@dataclass(eq=False)
class _Slot:
    actor: Any
    ready: Any  # the ObjectRef of ready() until the actor has started, then None
    node: dict[str, str]
    running: _Running | None = None


class RayExecutor:
    """Runs batches on Ray actors: a pool per job kind, sized by the cluster's resources, kept between batches."""

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self._pools: dict[tuple, list[_Slot]] = {}
        self._start_losses = 0  # workers lost before they started, in a row
        self._owns = not ray.is_initialized()  # a caller's own connection is left open on close()
        if self._owns:
            self._connect()

    def _connect(self) -> None:
        quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        if self.address is None:
            # `--executor ray` without an address: a fresh Ray instance on this machine, never a stale local one.
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(address="local", include_dashboard=False, **quiet)
            return
        where = f"--ray-address / RAY_ADDRESS {self.address!r}"
        _check_reachable(self.address, where)
        try:
            ray.init(address=self.address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise HwbenchError(f"{where}: cannot connect to a Ray cluster there ({exc})") from exc

    def run(self, batch: Batch, jobs: Iterable[Tagged]) -> Iterator[Tagged]:
        """Run every job (and the followups of each result) on this kind's actors; yield (tag, result) as each ends."""
        res = batch.resources
        key = (batch.kind, batch.threads, res.cpus, res.gpus, tuple(sorted(res.custom.items())))
        self._release_idle(keep=key)
        pool = self._pools.setdefault(key, [])
        pending = deque((tag, job, 0) for tag, job in jobs)
        # batch.workers is not used: it is sized for the driver's own cores, while the cluster's size is what
        # Ray reports; a stage that must run one job at a time says so with a resource (e.g. a board's).
        limit = self._fit(batch)
        try:
            while pending or any(slot.running for slot in pool):
                self._dispatch(batch, pool, pending, limit)
                for tag, result in self._wait(batch, pool, pending):
                    yield tag, result
                    if batch.followups is not None:
                        pending.extendleft((t, j, 0) for t, j in reversed(list(batch.followups(tag, result))))
        finally:
            # Closed early (Ctrl-C, an error in the caller): nothing of this batch keeps running. Actors holding a
            # custom resource (a board) end with their batch: another driver may be waiting for that resource.
            for slot in [s for s in pool if s.running or res.custom]:
                self._drop(pool, slot)

    def _dispatch(self, batch: Batch, pool: list[_Slot], pending: deque, limit: int | None) -> None:
        """Give jobs to started, idle actors (a timeout counts from the real start); start more while jobs wait."""
        for slot in pool:
            if not pending:
                break
            if slot.ready is None and slot.running is None:
                tag, job, requeues = pending.popleft()
                seconds = float(batch.timeout(job) if callable(batch.timeout) else batch.timeout)
                ref = slot.actor.run.remote(batch.fn, job)
                slot.running = _Running(tag, job, requeues, ref, time.monotonic(), seconds)
        starting = sum(slot.ready is not None for slot in pool)
        while len(pending) > starting and (limit is None or len(pool) < limit):
            pool.append(self._spawn(batch))
            starting += 1

    def _spawn(self, batch: Batch) -> _Slot:
        res: Resources = batch.resources
        options: dict[str, Any] = {"num_cpus": res.cpus, "num_gpus": res.gpus, "max_restarts": 0}
        if res.custom:
            options["resources"] = dict(res.custom)
        actor = _REMOTE_WORKER.options(**options).remote(batch.threads)
        return _Slot(actor, actor.ready.remote(), {})

    def _wait(self, batch: Batch, pool: list[_Slot], pending: deque) -> list[Tagged]:
        """Wait for one event (a result, an actor started, a deadline); return the results it produced."""
        refs = {s.ready: s for s in pool if s.ready is not None}
        refs |= {s.running.ref: s for s in pool if s.running}
        now = time.monotonic()
        deadlines = [s.running.started + s.running.seconds - now for s in pool if s.running]
        wait_s = max(0.0, min(deadlines)) if deadlines else IDLE_CHECK_S
        done, _ = ray.wait(list(refs), num_returns=1, timeout=wait_s)
        if not done and not deadlines:
            self._fit(batch)  # nothing started for a while: fail clearly if the cluster can no longer place one
        out = []
        for ref in done:
            slot = refs[ref]
            if slot.ready is not None and ref == slot.ready:
                self._started(batch, pool, slot)
            else:
                out.extend(self._finished(pool, slot, pending))
        now = time.monotonic()
        for slot in [s for s in pool if s.running and now - s.running.started > s.running.seconds]:
            run = slot.running
            self._drop(pool, slot)
            error = f"timed out after {run.seconds:.0f} s (Ray worker killed)"
            out.append((run.tag, {"status": "error", "error": error, "executor": dict(slot.node)}))
        return out

    def _started(self, batch: Batch, pool: list[_Slot], slot: _Slot) -> None:
        try:
            slot.node = ray.get(slot.ready)
            slot.ready = None
            self._start_losses = 0
            return
        except LOST as exc:
            pool.remove(slot)
            self._start_losses += 1
            # Its node went away before it started (a new one is started when needed), unless the worker itself
            # cannot start (hwbench missing on a node): that would fail the same way forever.
            if not getattr(exc, "actor_init_failed", False) and self._start_losses <= MAX_START_LOSSES:
                return
            error: Exception = exc
        except rex.RayError as exc:
            self._drop(pool, slot)
            error = exc
        raise HwbenchError(
            f"Ray could not start a worker for the {batch.kind} jobs (is hwbench installed on every node? "
            f"docs/cluster.md): {error}"
        ) from error

    def _finished(self, pool: list[_Slot], slot: _Slot, pending: deque) -> list[Tagged]:
        run = slot.running
        slot.running = None
        try:
            result = ray.get(run.ref)
            if run.requeues:  # provenance says it ran again after losing its worker
                result["executor"] = {**result["executor"], "requeued": run.requeues}
            return [(run.tag, result)]
        except LOST as exc:
            self._drop(pool, slot)
            if run.requeues < MAX_REQUEUES:
                pending.appendleft((run.tag, run.job, run.requeues + 1))  # runs again, on another worker
                return []
            error = f"worker lost {run.requeues + 1} times (node died?); last: {type(exc).__name__}"
        except rex.RayError as exc:  # e.g. a result Ray could not send back; the actor itself lives on
            cause = getattr(exc, "cause", None) or exc
            error = f"{type(cause).__name__}: {cause}"[:2000]
        return [(run.tag, {"status": "error", "error": error, "executor": dict(slot.node)})]

    def _drop(self, pool: list[_Slot], slot: _Slot) -> None:
        ray.kill(slot.actor, no_restart=True)
        pool.remove(slot)

    def _release_idle(self, keep: tuple) -> None:
        """Idle actors of other kinds hold CPUs and GPUs this batch may need: end them."""
        for key, pool in self._pools.items():
            if key != keep:
                for slot in [s for s in pool if s.running is None]:
                    self._drop(pool, slot)

    def _fit(self, batch: Batch) -> int | None:
        """How many of this batch's actors the cluster holds at once (None: it asks for no resources)."""
        total = ray.cluster_resources()
        res = batch.resources
        need = {"CPU": res.cpus, "GPU": res.gpus, **res.custom}
        counts = []
        for resource, amount in need.items():
            if amount <= 0:
                continue
            have = total.get(resource, 0.0)
            if have < amount:
                raise HwbenchError(
                    f"the Ray cluster has {have:g} {resource}; each {batch.kind} job needs {amount:g} "
                    f"(start a node with it: docs/cluster.md)"
                )
            counts.append(int(have / amount + 1e-9))
        return min(counts) if counts else None

    def describe(self) -> dict[str, Any]:
        """The cluster jobs ran on: its address, its alive nodes, and its CPU and GPU totals."""
        nodes = [
            {"node_id": n["NodeID"], "host": n["NodeManagerHostname"], "resources": n["Resources"]}
            for n in ray.nodes()
            if n["Alive"]
        ]
        address = self.address or ray.get_runtime_context().gcs_address
        total = ray.cluster_resources()
        cpus, gpus = total.get("CPU", 0.0), total.get("GPU", 0.0)
        return {"executor": "ray", "address": address, "nodes": nodes, "cpus": cpus, "gpus": gpus}

    def close(self) -> None:
        """End every actor; disconnect (and stop a Ray this executor started) unless the caller connected."""
        for pool in self._pools.values():
            for slot in list(pool):
                self._drop(pool, slot)
        self._pools.clear()
        if self._owns and ray.is_initialized():
            ray.shutdown()
