"""The one stage loop: pending jobs → executor → record each result in the store as it arrives."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwbench.pipeline.executor import Batch, Executor, Tagged, Wire
from hwbench.pipeline.plan import Plan
from hwbench.pipeline.request import SweepArch
from hwbench.progress import Progress, Task
from hwbench.store import Store


@dataclass
class StageContext:
    """What every stage works with: the plan, the sweep's networks, the store (written here only), where jobs run."""

    plan: Plan
    archs: list[SweepArch]
    store: Store
    ui: Progress
    executor: Executor


def run_stage(
    ctx: StageContext,
    batch: Batch,
    jobs: Iterable[Tagged],
    *,
    title: str,
    total: int,
    record: Callable[[Any, Wire], int],
    bar: Task | None = None,
) -> int:
    """Run `jobs` on the executor; `record(tag, result)` stores a result and returns how far the bar advances.

    The driver alone writes the store (one writer, WAL): results from any number of workers or nodes are
    recorded here one at a time, each in its own transaction, so an interruption keeps every result so far.
    Returns how many results were errors. `bar`: a progress bar shared with other loops (boards measured side by
    side), advanced instead of a bar of this loop's own.
    """
    failed = 0
    with nullcontext(bar) if bar is not None else ctx.ui.task(title, total) as shown:
        for tag, result in ctx.executor.run(batch, jobs):
            failed += result.get("status") != "ok"
            shown.advance(record(tag, result))
    return failed


def executed_on(result: Wire) -> dict[str, Any]:
    """Provenance of where a job ran (a Ray node), or nothing for a local worker."""
    return {"executor": result["executor"]} if result.get("executor") else {}


@contextmanager
def scratch(ctx: StageContext, prefix: str) -> Iterator[Path]:
    """A temporary folder for files that jobs read (prepared data, calibration images), removed afterwards.

    Local workers read the system's temporary folder; on a cluster the folder is made inside the artifact
    directory, which every node sees at the same path (docs/cluster.md), so jobs never carry data themselves.
    """
    root = None
    if ctx.executor.name != "local":
        root = ctx.plan.request.artifact_dir / "staging"
        root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=prefix, dir=root) as folder:
        yield Path(folder)
