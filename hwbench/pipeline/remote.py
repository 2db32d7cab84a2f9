"""Measure a target's networks on a board through its agent: handshake, upload once, measure, store with provenance."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwbench.agent.client import AgentAuthError, AgentClient, AgentError, AgentUnreachable
from hwbench.agent.wire import TokenError
from hwbench.config.target import Target
from hwbench.pipeline.executor import Batch, Tagged
from hwbench.pipeline.jobs import MeasureJob
from hwbench.pipeline.stage import StageContext
from hwbench.progress import Progress, Task
from hwbench.runners.local import job_timeout, now
from hwbench.store import Store

# Replies that say nothing about the network being measured: the board is busy, or the token changed.
_TRANSPORT_STATUSES = (401, 503)
PER_IMAGE_SKIPPED = (
    "per-image latency is measured on local targets only: the agent receives the artifact, not the images file"
)


@dataclass
class Board:
    """A connected agent and what its handshake said about the board."""

    client: AgentClient
    facts: dict[str, Any]


def client_for(target: Target, retries: int | None = None, address: tuple[str, int] | None = None) -> AgentClient:
    """An agent client configured from a target's `agent:` section, for its main board or the pool's board at
    `address` (raises TokenError without a token)."""
    agent = target.agent
    assert agent is not None, f"{target.name} is not an agent target"
    host, port = address or (agent.host, agent.port)
    return AgentClient(
        host,
        port,
        agent.token(),
        connect_timeout_s=agent.connect_timeout_s,
        retries=agent.retries if retries is None else retries,
        backoff_s=agent.backoff_s,
        keepalive_s=agent.keepalive_s,
    )


def handshake(target: Target, address: tuple[str, int] | None = None) -> Board | str:
    """The connected board at `address` (default: the main one), or why it cannot measure this target now."""
    try:
        client = client_for(target, address=address)
        facts = client.hello()
    except (AgentError, TokenError) as exc:
        return str(exc)
    runtime = facts.get("runtimes", {}).get(target.runner)
    if not runtime or not runtime.get("available"):
        there = ", ".join(n for n, r in facts.get("runtimes", {}).items() if r.get("available")) or "none"
        client.close()
        return f"runner {target.runner!r} is not installed on {client.address} (there: {there})"
    return Board(client, facts)


def _failure(message: str, transport: bool, started: str) -> dict[str, Any]:
    return {
        "status": "error",
        "error": message[:2000],
        "info": {"transport_error": transport} if transport else {},
        "started_at": started,
        "finished_at": now(),
    }


def _measure_one(
    client: AgentClient, target: Target, item: MeasureJob, job: dict[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """One round job on the board: (result, why the target must stop or None)."""
    assert target.agent is not None
    # Per-image timing is local-only: the agent receives the artifact alone (docs/measurement.md).
    job = {k: v for k, v in job.items() if k not in ("path", "inputs_path", "inputs_source")}
    path, digest = item.path, item.keys.artifact_hash
    started, t0 = now(), time.monotonic()
    stop = None
    try:
        reply = client.measure(
            job, path, digest, Path(path).suffix, job_timeout(job["protocol"]), target.agent.queue_timeout_s
        )
        result = reply["result"]
        result["queue_seconds"] = reply.get("queue_seconds")
        if result.get("status") == "ok":
            result["info"] = {
                **(result.get("info") or {}),
                "agent_seconds": reply.get("agent_seconds"),
                "round_trip_seconds": time.monotonic() - t0,
                **({"per_image": {"skipped": PER_IMAGE_SKIPPED}} if item.inputs_path else {}),
            }
    except (AgentUnreachable, AgentAuthError) as exc:
        result, stop = _failure(str(exc), True, started), str(exc)
    except AgentError as exc:
        transport = exc.status in _TRANSPORT_STATUSES
        result = _failure(f"{client.address}: {exc}", transport, started)
        stop = str(exc) if transport else None
    except OSError as exc:  # the local artifact could not be read for upload
        result = _failure(f"cannot upload {path}: {exc}", False, started)
    return result, stop


class AgentExecutor:
    """Measurement rounds on one board through its agent: the measure stage's transport for agent targets.

    The same interface as the local worker pool (pipeline.executor), so the measure stage has one loop. Jobs run
    one at a time (the board measures one network at a time anyway); a lost board stops the batch after its
    failure is yielded (the rest stay pending), as does `halt` (set when the sweep is interrupted).
    """

    name = "agent"

    def __init__(
        self, board: Board, target: Target, todo: list[MeasureJob], ui: Progress, halt: threading.Event | None
    ) -> None:
        self.board, self.target, self.todo, self.ui, self.halt = board, target, todo, ui, halt

    def run(self, batch: Batch, jobs: Iterable[Tagged]) -> Iterator[Tagged]:
        """Send each round job to the board; yield its result; then its followups run next."""
        queue = list(jobs)
        while queue and not (self.halt and self.halt.is_set()):
            tag, job = queue.pop(0)
            result, stop = _measure_one(self.board.client, self.target, self.todo[tag[0]], job)
            yield tag, result
            if stop:
                self.ui.note(
                    f"{self.target.name}: {stop}; that network is recorded as a failure and the unfinished ones "
                    "stay pending; re-run the sweep when the board is back to finish (finished rounds are kept)"
                )
                return
            if batch.followups is not None:
                queue[:0] = batch.followups(tag, result)

    def describe(self) -> dict[str, Any]:
        """The board's agent."""
        return {"executor": "agent", "address": self.board.client.address}

    def close(self) -> None:
        """Close the connection to the agent."""
        self.board.client.close()


def measure_remote(
    ctx: StageContext,
    store: Store,
    target: Target,
    fp: str,
    identity: dict[str, Any],
    todo: list[MeasureJob],
    board: Board,
    bar: Task,
    halt: threading.Event | None = None,
) -> int:
    """Measure these networks on the board in rounds (until `halt` is set); stop if the board goes, not the sweep.
    Returns how many final records were stored."""
    from hwbench.pipeline.measurements import Block, measure_timeout, round_recorder
    from hwbench.pipeline.rounds import RoundDriver
    from hwbench.pipeline.stage import run_stage
    from hwbench.runners.local import measure_artifact

    client, facts = board.client, board.facts
    extra = {
        "agent": {
            "address": client.address,
            "device": facts.get("device"),
            "hwbench": facts.get("hwbench"),
            "numpy": facts.get("numpy"),
            "delegates": facts.get("delegates"),
        }
    }
    block = Block(ctx.plan, store, target, fp, identity, extra)
    driver = RoundDriver(block, todo, ctx.plan.request.seed, rounds=target.measurement.rounds)
    executor = AgentExecutor(board, target, todo, ctx.ui, halt)
    # The agent runs the same measurement function on the board (the batch's fn names what it runs there).
    batch = Batch("measure", measure_artifact, 1, measure_timeout, threads=target.threads, followups=driver.followups)
    here = StageContext(ctx.plan, ctx.archs, store, ctx.ui, executor)
    try:
        run_stage(here, batch, driver.jobs(), title="", total=0, record=round_recorder(driver), bar=bar)
        driver.finish()
    finally:
        executor.close()
    if client.uploaded:
        size = sum(u[1] for u in client.uploaded) / 1e6
        ctx.ui.note(f"{target.name}: uploaded {len(client.uploaded)} artifacts ({size:.1f} MB) to {client.address}")
    if block.failed:
        ctx.ui.note(
            f"{target.name}: {block.failed} of {block.stored} measurements on {client.address} failed; "
            "they are recorded"
        )
    return block.stored
