"""A measurement round's records: the round row stored as it arrives, its history of attempts, and the network's
final record pooled from its kept rounds (used by pipeline.rounds.RoundDriver)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from hwbench.measure.rounds import pool
from hwbench.measure.stats import summarize

# The block's canary figure as measurement columns (canary_kind, canary_ms, canary_n, canary_rel_sd).
CANARY_FIELDS = {"kind": "kind", "ms": "median_ms", "n": "n", "rel_sd": "rel_sd"}

ROUND_COLUMNS = (
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


def attempt_record(tried: dict[str, Any]) -> dict[str, Any]:
    """One attempt as the round's history keeps it: when, how long, what it waited for, why it was disturbed
    (`measured` false: the wait ended with the machine still disturbed, so it was not measured)."""
    res = tried["result"]
    wait = (res.get("info") or {}).get("quiet_wait") or {}
    stamps = {k: res.get(k) for k in ("device_seconds", "started_at", "finished_at")}
    found = {**stamps, "quiet_waited_s": wait.get("waited_s", 0.0), "reasons": tried["reasons"]}
    if wait.get("canary_drift") is not None:
        found["quiet_canary_drift"] = wait["canary_drift"]
    return {**found, "measured": not tried.get("busy")}


def summary(found: dict[str, Any]) -> dict[str, Any]:
    res = found["result"]
    return {k: res.get(k) for k in ("median_ms", "ci_low_ms", "ci_high_ms", "batches", "n_runs")}


def round_row(mkey: str, r: int, found: dict[str, Any]) -> dict[str, Any]:
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
        **{k: res.get(k) for k in ROUND_COLUMNS},
        "converged": int(bool(res.get("converged"))),
        "foreign_share": ((res.get("info") or {}).get("interference") or {}).get("foreign_share"),
        "canary_drift": found["drift"],
        "samples": res.get("samples"),
        "result_json": json.dumps(body, default=str),
        "started_at": res.get("started_at"),
        "finished_at": res.get("finished_at"),
    }


def from_row(row: Any) -> dict[str, Any]:
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


def final_record(
    kept: list[dict[str, Any]], rel_var: float, df: int, confidence: float, canary: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The network's stored record from its kept rounds, with its block's canary figure (measure.machine_speed)."""
    results = [k["result"] for k in kept]
    pooled = pool([summary(k) for k in kept], confidence, rel_var, df)
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
        **({"block_canary": canary} if canary else {}),
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
        **{f"canary_{k}": (canary or {}).get(src) for k, src in CANARY_FIELDS.items()},
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
