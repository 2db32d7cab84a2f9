"""One target's measurement block in rounds: schedule, judge disturbance, re-measure, pool, store (local and agent).

Round r of every pending network runs before round r+1 of any, each round in its own seeded order. A round judged
disturbed (hwbench.measure.disturbance) is measured again at once, at most MAX_RETRIES times; each re-measure first
waits (bounded) until the measured cores are free of other processes and the target's canary is back within its
limit of the block's baseline, and is not run when the wait ends without that (the job answers `busy`). The least
disturbed attempt is kept, flagged when still disturbed. A round is stored as it arrives (table
measurement_rounds), so an interrupted sweep resumes mid-round; the final records (pipeline.round_records) are
pooled at the end of the block, when the block's between-round variance can be estimated from every network.
"""

from __future__ import annotations

from typing import Any

from hwbench.measure.disturbance import CanaryBaseline, canary_kind, reasons, severity
from hwbench.measure.machine_speed import block_canary
from hwbench.measure.recovery import BUSY
from hwbench.measure.rounds import ROUNDS, between_variance, round_protocol
from hwbench.pipeline.jobs import MeasureJob
from hwbench.pipeline.round_records import attempt_record, final_record, from_row, round_row, summary
from hwbench.space.sampling import space_rng
from hwbench.store.rounds import drop_rounds, get_rounds, put_round

MAX_RETRIES = 2
QUIET_WAIT_S = 10.0  # how long a re-measure waits for the measured cores to be quiet before it runs anyway
# Re-measuring is bounded per block too, so a machine that stays busy cannot stretch a sweep without limit: after
# this much time spent on re-measures (waits included), or after this many re-measures in a row that found the
# machine still disturbed, disturbed rounds are flagged without another try. The recovery pass after the last round
# gets the same budget again.
RETRY_BUDGET_S = 30.0
BUSY_STREAK = 3


class RoundDriver:
    """Turns a target's pending networks into round jobs and their results into stored records."""

    def __init__(
        self,
        ctx: Any,
        todo: list[MeasureJob],
        seed: int,
        *,
        rounds: int = ROUNDS,
        retries: int = MAX_RETRIES,
        quiet_wait_s: float | None = None,
    ) -> None:
        self.ctx, self.todo, self.seed = ctx, todo, seed
        self.rounds, self.retries = rounds, retries
        self.quiet_wait_s = QUIET_WAIT_S if quiet_wait_s is None else quiet_wait_s
        self.baseline = CanaryBaseline()
        self.failed: set[int] = set()
        self.kept: dict[int, dict[int, dict[str, Any]]] = {}
        for i, item in enumerate(todo):
            stored = get_rounds(ctx.store, item.keys.measure_key)
            self.kept[i] = {r: from_row(row) for r, row in stored.items() if row["status"] == "ok" and r < rounds}
            for found in self.kept[i].values():
                self.baseline.observe(found["result"].get("info", {}).get("canary"))
        self.attempts: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self.outstanding = 0
        self.next_round = 0
        self.retry: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
        self.retry_seconds = 0.0  # spent on re-measures in this block, waits included
        self.busy_streak = 0  # re-measures in a row that were still disturbed
        self.recovery: list[tuple[int, int]] | None = None  # rounds still disturbed after all rounds ran

    # -- scheduling -----------------------------------------------------------------------------------
    def job(self, i: int, r: int, attempt: int) -> dict[str, Any]:
        """The measurement job of network i, round r (a re-measure first waits for quiet)."""
        item = self.todo[i]
        protocol = round_protocol(item.protocol, self.rounds)
        if attempt != 0:  # a re-measure (attempt > 0) or the recovery pass (attempt -1)
            protocol["quiet_wait_seconds"] = self.quiet_wait_s
            baseline = self.baseline.baseline(self._canary_kind(i, r))
            if baseline:  # the wait also runs the canary against this block's baseline of the same kind
                protocol["quiet_canary_ms"] = baseline
        return item.round_job(protocol, first_round=r == 0)  # per-image latency is measured once, in round 1

    def _canary_kind(self, i: int, r: int) -> str:
        """The canary kind the round's latest measured attempt ran (the worker runs the same one again)."""
        measured = [t for t in self.attempts.get((i, r), []) if not t.get("busy")]
        latest = measured[-1] if measured else self.kept[i].get(r)
        return canary_kind(((latest or {}).get("result", {}).get("info") or {}).get("canary"))

    def jobs(self) -> list[tuple[tuple[int, int, int], dict[str, Any]]]:
        """The next round's jobs (empty when every round is done), in that round's seeded order."""
        while self.next_round < self.rounds:
            r = self.next_round
            self.next_round += 1
            pending = [i for i in range(len(self.todo)) if i not in self.failed and r not in self.kept[i]]
            if not pending:
                continue
            if r > 0:  # a new order each round, so no network is always measured right after the same one
                pending = [pending[k] for k in space_rng(f"round:{r}", self.seed).permutation(len(pending))]
            self.outstanding += len(pending)
            return [((i, r, 0), self.job(i, r, 0)) for i in pending]
        if self.recovery is None:
            # Recovery pass: a disturbance longer than the re-measures' waits left rounds flagged; now that every
            # round ran, measure those once more (each after a wait for quiet), within the block's budget.
            self.recovery = [
                (i, r) for i in self.kept if i not in self.failed for r, f in self.kept[i].items() if f["reasons"]
            ]
            self.busy_streak = 0
            # Its own budget: host-level slow-downs (canary drift with no foreign process) come and go within
            # seconds, and the re-measures during one can spend the block's budget before the recovery pass.
            self.retry_seconds = 0.0
        if self.recovery and self._may_retry():
            i, r = self.recovery.pop(0)
            self.outstanding += 1
            return [((i, r, -1), self.job(i, r, -1))]
        self.recovery = []
        return []

    def followups(self, tag: Any, result: dict[str, Any]) -> list[tuple[tuple[int, int, int], dict[str, Any]]]:
        """What runs next after a result was handled: its re-measure, or the next round once this one is done."""
        if self.retry:
            found, self.retry = self.retry, []
            self.outstanding += len(found)
            return found
        return self.jobs() if self.outstanding == 0 else []

    # -- results --------------------------------------------------------------------------------------
    def handle(self, tag: tuple[int, int, int], result: dict[str, Any]) -> bool:
        """Judge and store one round's result; return False for a failed measurement."""
        i, r, attempt = tag
        self.outstanding -= 1
        if result.get("status") not in ("ok", BUSY):
            self.failed.add(i)
            self.ctx.store_final(i, self.todo[i].keys, result, tag)
            if not (result.get("info") or {}).get("transport_error"):  # a board that went away keeps its rounds
                drop_rounds(self.ctx.store, self.todo[i].keys.measure_key)
            return False
        info = result.get("info") or {}
        tries = self.attempts.setdefault((i, r), [])
        if not tries and r in self.kept[i]:  # a recovery attempt for a round kept by an earlier run
            tries.append({**self.kept[i][r], "previous": True})
        if result.get("status") == BUSY:  # not measured: the wait ended with the machine still disturbed
            tries.append({"result": result, "reasons": [result.get("error") or "busy"], "busy": True, "drift": None})
        else:
            drift = self.baseline.observe(info.get("canary"))
            why = reasons(info, drift)
            tries.append({"result": result, "reasons": why, "severity": severity(info, drift), "drift": drift})
        disturbed = bool(tries[-1]["reasons"])
        if attempt == 0 and not disturbed:
            self.busy_streak = 0  # the machine is quiet again: re-measures are worth trying
        if attempt != 0:
            self.retry_seconds += (result.get("device_seconds") or 0.0) + (info.get("quiet_wait") or {}).get(
                "waited_s", 0.0
            )
            self.busy_streak = self.busy_streak + 1 if disturbed else 0
        if disturbed and 0 < attempt + 1 <= self.retries and self._may_retry():
            self.retry = [((i, r, attempt + 1), self.job(i, r, attempt + 1))]
            return True
        measured = [t for t in tries if not t.get("busy")]
        if not measured:  # only a busy answer (a worker that waits before a first attempt): nothing to keep
            self.failed.add(i)
            self.ctx.store_final(i, self.todo[i].keys, {**result, "status": "error"}, tag)
            return False
        best = min(measured, key=lambda t: (bool(t["reasons"]), t["severity"]))
        history = [h for t in tries if t.get("previous") for h in t.get("history", [])]
        history += [attempt_record(t) for t in tries if not t.get("previous")]
        best = {**best, "attempts": len(history), "history": history}
        self.kept[i][r] = best
        put_round(self.ctx.store, round_row(self.todo[i].keys.measure_key, r, best))
        return True

    def _may_retry(self) -> bool:
        """Whether this block may still re-measure (bounded time; not while the machine stays busy)."""
        return self.retry_seconds < RETRY_BUDGET_S and self.busy_streak < BUSY_STREAK

    def finish(self) -> int:
        """Pool and store every network whose rounds are all in; return how many were stored."""
        complete = [i for i in self.kept if i not in self.failed and len(self.kept[i]) == self.rounds]
        for i in self.kept:  # judge the canary again against the block's final baseline (fastest canary of all)
            for found in self.kept[i].values():
                info = found["result"].get("info") or {}
                found["drift"] = self.baseline.observe(info.get("canary"))
                found["reasons"] = reasons(info, found["drift"])
        clean = [
            [summary(f) for f in self.kept[i].values()]
            for i in complete
            if not any(f["reasons"] for f in self.kept[i].values())
        ]
        rel_var, df = between_variance(clean)
        # The machine's speed during this block, stored with each of its measurements (measure.machine_speed):
        # measurements are reused across sweeps, so the canary belongs to the block that measured them.
        canary = block_canary(
            ((f["result"].get("info") or {}).get("canary"), bool(f["reasons"]))
            for i in self.kept
            if i not in self.failed
            for f in self.kept[i].values()
        )
        for i in complete:
            confidence = self.todo[i].protocol.get("confidence", 0.95)
            final = final_record([self.kept[i][r] for r in range(self.rounds)], rel_var, df, confidence, canary)
            self.ctx.store_final(i, self.todo[i].keys, final, None)
            drop_rounds(self.ctx.store, self.todo[i].keys.measure_key)
        return len(complete)
