"""One target's measurement block in rounds: schedule, judge disturbance, re-measure, pool, store (local and agent).

Round r of every pending network runs before round r+1 of any, each round in its own seeded order. A round judged
disturbed (hwbench.measure.disturbance) is measured again at once, at most MAX_RETRIES times; each re-measure first
waits (bounded) until the measured cores are free of other processes and the target's canary is back within its
limit of the block's baseline, and is not run when the wait ends without that (the job answers `busy`). The least
disturbed attempt is kept, flagged when still disturbed. A round is
stored as it arrives (table measurement_rounds), so an interrupted sweep resumes mid-round; the final records are
pooled at the end of the block, when the block's between-round variance can be estimated from every network.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from hwbench.measure.disturbance import CanaryBaseline, canary_kind, reasons, severity
from hwbench.measure.rounds import ROUNDS, between_variance, pool, round_protocol
from hwbench.measure.stats import summarize
from hwbench.pipeline.jobs import MeasureJob
from hwbench.runners.local import BUSY
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
_ROUND_COLUMNS = (
    "median_ms",
    "ci_low_ms",
    "ci_high_ms",
    "n_runs",
    "n_eff",
    "converged",
    "stop_reason",
    "warmup_runs",
    "device_seconds",
)


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
            self.kept[i] = {r: _from_row(row) for r, row in stored.items() if row["status"] == "ok" and r < rounds}
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
        history += [_attempt(t) for t in tries if not t.get("previous")]
        best = {**best, "attempts": len(history), "history": history}
        self.kept[i][r] = best
        put_round(self.ctx.store, _round_row(self.todo[i].keys.measure_key, r, best))
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
            [_summary(f) for f in self.kept[i].values()]
            for i in complete
            if not any(f["reasons"] for f in self.kept[i].values())
        ]
        rel_var, df = between_variance(clean)
        for i in complete:
            confidence = self.todo[i].protocol.get("confidence", 0.95)
            final = _final([self.kept[i][r] for r in range(self.rounds)], rel_var, df, confidence)
            self.ctx.store_final(i, self.todo[i].keys, final, None)
            drop_rounds(self.ctx.store, self.todo[i].keys.measure_key)
        return len(complete)


def _attempt(tried: dict[str, Any]) -> dict[str, Any]:
    """One attempt as the round's history keeps it: when, how long, what it waited for, why it was disturbed
    (`measured` false: the wait ended with the machine still disturbed, so it was not measured)."""
    res = tried["result"]
    wait = (res.get("info") or {}).get("quiet_wait") or {}
    stamps = {k: res.get(k) for k in ("device_seconds", "started_at", "finished_at")}
    found = {**stamps, "quiet_waited_s": wait.get("waited_s", 0.0), "reasons": tried["reasons"]}
    if wait.get("canary_drift") is not None:
        found["quiet_canary_drift"] = wait["canary_drift"]
    return {**found, "measured": not tried.get("busy")}


def _summary(found: dict[str, Any]) -> dict[str, Any]:
    res = found["result"]
    return {k: res.get(k) for k in ("median_ms", "ci_low_ms", "ci_high_ms", "batches", "n_runs")}


def _round_row(mkey: str, r: int, found: dict[str, Any]) -> dict[str, Any]:
    res = found["result"]
    body = {k: v for k, v in res.items() if k != "samples"}
    body["_judged"] = {"reasons": found["reasons"], "attempts": found["attempts"], "history": found["history"]}
    return {
        "measure_key": mkey,
        "round": r,
        "attempts": found["attempts"],
        "status": "ok",
        "disturbed": int(bool(found["reasons"])),
        "disturbed_reason": "; ".join(found["reasons"]) or None,
        **{k: res.get(k) for k in _ROUND_COLUMNS},
        "converged": int(bool(res.get("converged"))),
        "foreign_share": ((res.get("info") or {}).get("interference") or {}).get("foreign_share"),
        "canary_drift": found["drift"],
        "samples": res.get("samples"),
        "result_json": json.dumps(body, default=str),
        "started_at": res.get("started_at"),
        "finished_at": res.get("finished_at"),
    }


def _from_row(row: Any) -> dict[str, Any]:
    body = json.loads(row["result_json"])
    judged = body.pop("_judged", {})
    body["samples"] = row["samples"]
    return {
        "result": body,
        "reasons": judged.get("reasons", []),
        "attempts": judged.get("attempts", 1),
        "history": judged.get("history", []),
        "severity": 0.0,
        "drift": row["canary_drift"],
    }


def _final(kept: list[dict[str, Any]], rel_var: float, df: int, confidence: float) -> dict[str, Any]:
    """The network's stored record from its kept rounds."""
    results = [k["result"] for k in kept]
    pooled = pool([_summary(k) for k in kept], confidence, rel_var, df)
    samples = np.concatenate([np.frombuffer(r["samples"], dtype="<f4") for r in results if r.get("samples")])
    stats = summarize(samples.astype(np.float64) * 1e6, confidence) if samples.size else {}
    median = pooled["median_ms"]
    why = sorted({f"round {n + 1}: {w}" for n, k in enumerate(kept) for w in k["reasons"]})
    drifts = [k["drift"] for k in kept if k["drift"] is not None]
    shares = [((r.get("info") or {}).get("interference") or {}).get("foreign_share") for r in results]
    reasons_stop = sorted({r.get("stop_reason") for r in results})
    info = {
        **(results[0].get("info") or {}),
        "rounds": [_round_info(k) for k in kept],
        "pooling": {**pooled, "between_rel_var": rel_var, "between_df": df},
    }
    from hwbench.runners.local import thin

    return {
        "status": "ok",
        **{k: stats.get(k) for k in ("mean_ms", "std_ms", "cov", "p10_ms", "p90_ms", "p99_ms")},
        "median_ms": median,
        "min_ms": min(r["min_ms"] for r in results),
        "ci_low_ms": pooled["ci_low_ms"],
        "ci_high_ms": pooled["ci_high_ms"],
        "rel_ci": (pooled["ci_high_ms"] - pooled["ci_low_ms"]) / 2 / median if median > 0 else None,
        "n_runs": sum(r["n_runs"] for r in results),
        "n_eff": round(sum(r.get("n_eff") or 0.0 for r in results), 1),
        "converged": all(r.get("converged") for r in results),
        "stop_reason": "+".join(s for s in reasons_stop if s),
        "warmup_runs": sum(r.get("warmup_runs") or 0 for r in results),
        "device_seconds": sum(sum(h.get("device_seconds") or 0.0 for h in k["history"]) for k in kept),
        "samples": thin(samples.astype(np.float64)),
        "rounds": len(kept),
        "disturbed": int(bool(why)),
        "disturbed_reason": "; ".join(why) or None,
        "foreign_share": max((s for s in shares if s is not None), default=None),
        "canary_drift": round(max(drifts), 4) if drifts else None,
        "queue_seconds": _queue_seconds(results),
        "info": info,
        "provenance": results[-1].get("provenance"),
        "started_at": results[0].get("started_at"),
        "finished_at": results[-1].get("finished_at"),
    }


def _queue_seconds(results: list[dict[str, Any]]) -> float | None:
    """Time the rounds waited behind other jobs on a board (None for local targets)."""
    waits = [r["queue_seconds"] for r in results if r.get("queue_seconds") is not None]
    return sum(waits) if waits else None


def _round_info(found: dict[str, Any]) -> dict[str, Any]:
    res = found["result"]
    info = res.get("info") or {}
    return {
        **{
            k: res.get(k)
            for k in (
                "median_ms",
                "ci_low_ms",
                "ci_high_ms",
                "n_runs",
                "n_eff",
                "batches",
                "trend",
                "stop_reason",
                "confidence_achieved",
                "long_enough",
                "trend_significant",
                "started_at",
            )
        },
        "attempts": found["attempts"],
        "disturbed": found["reasons"],
        "interference": info.get("interference"),
        "canary": info.get("canary"),
        "canary_drift": found["drift"],
        "history": found["history"],
    }
