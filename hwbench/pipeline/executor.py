"""Where stage jobs run: worker processes on this machine (default) or a Ray cluster, behind one interface."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

Wire = dict[str, Any]  # a job or result in its JSON-safe wire form
Tagged = tuple[Any, Wire]


@dataclass(frozen=True)
class Resources:
    """What one job needs from the machine that runs it (Ray schedules on it; the local pool uses threads)."""

    cpus: float = 1.0
    gpus: float = 0.0
    custom: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    """One stage's jobs for an executor: the function each worker runs on a job's wire form, and its limits."""

    kind: str  # "export" | "train" | "evaluate" | "measure": names the worker pool (Ray keeps one per kind)
    fn: Callable[[Wire], Wire]  # a module-level function, so that a worker can import it
    workers: int  # at most this many jobs at once
    timeout: float | Callable[[Wire], float]
    threads: int | None = None  # OMP/MKL threads in each worker
    resources: Resources = Resources()
    followups: Callable[[Any, Wire], Iterable[Tagged]] | None = None


class Executor(Protocol):
    """Runs a batch of (tag, job) pairs; yields (tag, result) as each finishes, a failure as an error result."""

    name: str

    def run(self, batch: Batch, jobs: Iterable[Tagged]) -> Iterator[Tagged]:
        """Run every job (and the followups of each result); crashes, hangs and lost nodes become error results."""
        ...

    def describe(self) -> dict[str, Any]:
        """Where jobs ran, for provenance (executor name; Ray: cluster address and nodes)."""
        ...

    def close(self) -> None:
        """Release workers (actors, processes); the executor is not used afterwards."""
        ...


class LocalExecutor:
    """Spawned worker processes on this machine (hwbench.workers): no Ray imported, nothing started beyond them."""

    name = "local"

    def run(self, batch: Batch, jobs: Iterable[Tagged]) -> Iterator[Tagged]:
        """Run the batch in a fresh process pool that lives as long as the batch."""
        from hwbench.workers import run_jobs

        return run_jobs(
            batch.fn,
            jobs,
            workers=batch.workers,
            timeout=batch.timeout,
            threads=batch.threads,
            followups=batch.followups,
        )

    def describe(self) -> dict[str, Any]:
        """Local worker processes."""
        return {"executor": "local"}

    def close(self) -> None:
        """Nothing outlives a batch here."""
