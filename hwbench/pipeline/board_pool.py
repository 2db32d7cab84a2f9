"""A board pool: an agent target's networks shared among several boards of one kind, measured in parallel.

Every reachable board (the target's `agent.host` and its `agent.pool`) gets a thread with its own store
connection (sqlite connections belong to their thread; this process stays the store's only writer), its own
round driver and its own fingerprint, so each result is keyed by the board that measured it. A network measured
on any board of the pool counts as measured; the rest are dealt out round-robin in the seeded order. A board that
goes away stops its own share only: its unfinished networks stay pending for a re-run, never handed to another
board mid-run. A re-run deals them again; rounds the lost board finished are resumed only if the network comes
back to that board (they are keyed by its fingerprint).
"""

from __future__ import annotations

import threading
from typing import Any

from hwbench.config.target import Target
from hwbench.export.artifacts import ArtifactStore
from hwbench.pipeline.jobs import MeasureJob
from hwbench.pipeline.remote import Board, handshake, measure_remote
from hwbench.pipeline.stage import StageContext
from hwbench.progress import Progress, Task
from hwbench.store import Store


def connect_pool(target: Target, ui: Progress) -> list[Board]:
    """Handshake with every board of the target at once; the unusable ones are skipped, each with a note."""
    assert target.agent is not None
    addresses = target.agent.boards()
    outcomes: list[Board | str | BaseException] = [""] * len(addresses)

    def reach(i: int) -> None:
        try:
            outcomes[i] = handshake(target, addresses[i])
        except BaseException as exc:  # raised in the driver thread below
            outcomes[i] = exc

    # At once: an unreachable board takes its retries' backoff (15 s by default) before it is given up.
    _run_all([threading.Thread(target=reach, args=(i,), daemon=True) for i in range(len(addresses))])
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            for board in (o for o in outcomes if isinstance(o, Board)):
                board.client.close()
            raise outcome
    boards = [o for o in outcomes if isinstance(o, Board)]
    for why in (o for o in outcomes if isinstance(o, str)):
        if len(addresses) == 1:
            ui.note(f"{target.name}: {why}; its networks stay pending (re-run the sweep when the board is back)")
        else:
            ui.note(f"{target.name}: {why}; that board is skipped, the pool's other reachable boards measure")
    if not boards and len(addresses) > 1:
        ui.note(f"{target.name}: no board of its pool is usable; its networks stay pending (re-run the sweep later)")
    return boards


def measure_pool(
    ctx: StageContext, target: Target, exports: dict[str, str | None], artifacts: ArtifactStore
) -> tuple[list[MeasureJob], int]:
    """Measure the target's pending networks on every usable board of its pool: (the jobs that ran, results stored)."""
    from hwbench.pipeline.measurements import target_fingerprint

    boards = connect_pool(target, ctx.ui)
    if not boards:  # said why; its networks stay pending for a re-run
        return [], 0
    idents = [target_fingerprint(target, board.facts) for board in boards]
    _note_twins(target, boards, [fp for fp, _ in idents], ctx.ui)
    shares = deal(ctx, artifacts, target, exports, [fp for fp, _ in idents])
    work = []
    for board, (fp, identity), share in zip(boards, idents, shares, strict=True):
        if share:
            work.append((board, fp, identity, share))
        else:  # fewer networks than boards, or nothing left to measure
            board.client.close()
    todo = [job for *_, share in work for job in share]
    if not todo:
        return [], 0
    where = f"on {len(work)} boards" if len(work) > 1 else f"@ {work[0][0].client.address}"
    halt = threading.Event()
    rounds = target.measurement.rounds
    with ctx.ui.task(f"measuring {target.name} {where} ({rounds} rounds)", len(todo) * rounds) as bar:
        shared = _SharedBar(bar)
        threads = [_Share(ctx, target, *one, shared, halt) for one in work]
        try:
            _run_all(threads)
        except BaseException:
            halt.set()  # interrupted: each board stops after the measurement it is running
            raise
    failed = next((t.error for t in threads if t.error is not None), None)
    if failed is not None:
        raise failed
    return todo, sum(t.stored for t in threads)


def deal(
    ctx: StageContext, artifacts: ArtifactStore, target: Target, exports: dict[str, str | None], fps: list[str]
) -> list[list[MeasureJob]]:
    """Each board's share of the pending networks (board k: fingerprint fps[k]), round-robin in the seeded order,
    each job keyed for the board that measures it; networks measured on any of the boards are linked instead."""
    from hwbench.pipeline.measurements import pending

    distinct = list(dict.fromkeys(fps))
    # pending() once per fingerprint: the same networks in the same seeded order, each keyed for that board.
    keyed = {fp: pending(ctx, artifacts, target, exports, fp, [f for f in distinct if f != fp]) for fp in distinct}
    by_arch = {fp: {job.keys.arch_id: job for job in jobs} for fp, jobs in keyed.items()}
    shares: list[list[MeasureJob]] = [[] for _ in fps]
    dealt = 0
    for job in keyed[distinct[0]]:
        k = dealt % len(fps)
        mine = by_arch[fps[k]].get(job.keys.arch_id)
        if mine is None:  # stored meanwhile (another sweep measuring this pool): pending() linked it
            continue
        shares[k].append(mine)
        dealt += 1
    return shares


class _Share(threading.Thread):
    """One board's share, measured in a thread of its own, on its own store connection, under its Ray lease."""

    def __init__(
        self,
        ctx: StageContext,
        target: Target,
        board: Board,
        fp: str,
        identity: dict[str, Any],
        todo: list[MeasureJob],
        bar: Task,
        halt: threading.Event,
    ) -> None:
        # A daemon: an interrupted sweep exits without waiting for a board's measurement in flight.
        super().__init__(name=f"board {board.client.address}", daemon=True)
        self.ctx, self.target, self.board, self.fp, self.identity = ctx, target, board, fp, identity
        self.todo, self.bar, self.halt = todo, bar, halt
        self.stored = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        """Measure the share; an exception is kept for the driver thread to raise after the other boards finish."""
        from hwbench.pipeline.board_lease import board_lease

        ctx, target = self.ctx, self.target
        try:
            store = Store(ctx.plan.request.store)
            try:
                with board_lease(target.name, ctx.executor) as lease:
                    if lease:
                        ctx.ui.note(f"{target.name} @ {self.board.client.address}: {lease}")
                    self.stored = measure_remote(
                        ctx, store, target, self.fp, self.identity, self.todo, self.board, self.bar, self.halt
                    )
            finally:
                store.close()
        except BaseException as exc:  # handed to the driver thread, which raises it
            self.error = exc
        finally:
            self.board.client.close()


class _SharedBar:
    """One progress bar advanced by every board's thread (a Progress need not be thread-safe)."""

    def __init__(self, bar: Task) -> None:
        self.bar, self.lock = bar, threading.Lock()

    def advance(self, steps: int = 1) -> None:
        """Move the bar forward."""
        with self.lock:
            self.bar.advance(steps)


def _run_all(threads: list[threading.Thread]) -> None:
    """Start the threads and wait for all of them."""
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _note_twins(target: Target, boards: list[Board], fps: list[str], ui: Progress) -> None:
    """Say when two addresses reach the same machine: measurements side by side there disturb each other."""
    first: dict[str, str] = {}
    for board, fp in zip(boards, fps, strict=True):
        seen = first.setdefault(fp, board.client.address)
        if seen != board.client.address:
            ui.note(
                f"{target.name}: {seen} and {board.client.address} report the same machine and device id; their "
                "results share one fingerprint, and two agents on one machine disturb each other's timings"
            )
