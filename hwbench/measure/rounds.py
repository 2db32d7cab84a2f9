"""Rounds: each network timed in >= 2 windows separated in time; their figures pooled into one median and interval.

Why: the interval of one burst covers the noise inside it, not what a re-measurement minutes later finds (the
machine's state moves between bursts). Round r of every network runs before round r+1 of any, in a new seeded
order, so the rounds of one network are minutes apart and see different states of the machine.

Pooling: the stored median is the mean of the round medians; its variance is the within-round part (mean of the
rounds' squared standard errors, over R) plus the between-round part, and the interval uses Student t with
Welch–Satterthwaite degrees of freedom. Two rounds of one network cannot estimate the between-round variance
(1 degree of freedom; a method-of-moments estimate from them covered a 2%-shifting machine in only 83% of trials),
but it is mostly a property of the machine, not of the network: it is estimated once per target block from every
network's rounds (relative to each median, N networks give N(R-1) degrees of freedom) and applied to each network.
The interval always contains every round median of its network.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hwbench.measure.stats import t_quantile

ROUNDS = 2
# The shortest timed window of one round: several scheduler periods and timer ticks, and the batch-median interval
# needs >= 5 batches (docs/measurement.md).
MIN_ROUND_SECONDS = 0.15
MIN_ROUND_RUNS = 10


def round_protocol(protocol: dict[str, Any], rounds: int = ROUNDS) -> dict[str, Any]:
    """One round's share of the protocol: the time caps and warm-up time split, the CI goal widened by sqrt(R)."""
    p = dict(protocol)
    if rounds <= 1:
        return p
    p["max_seconds"] = max(p["max_seconds"] / rounds, MIN_ROUND_SECONDS)
    p["min_seconds"] = max(p.get("min_seconds", 0.0) / rounds, MIN_ROUND_SECONDS)
    p["warmup_seconds"] = p.get("warmup_seconds", 0.0) / rounds
    p["min_runs"] = max(math.ceil(p.get("min_runs", 2) / rounds), MIN_ROUND_RUNS)
    p["max_runs"] = max(math.ceil(p.get("max_runs", 10_000) / rounds), p["min_runs"])
    # R rounds each within rel_ci * sqrt(R) pool to about rel_ci when they agree.
    p["rel_ci"] = p["rel_ci"] * math.sqrt(rounds)
    return p


def _standard_errors(rounds: list[dict[str, Any]], confidence: float) -> tuple[np.ndarray, list[int]]:
    """Each round's standard error (from its interval's half-width and its batches' t) and degrees of freedom."""
    ses, dfs = [], []
    for x in rounds:
        df = max(int(x.get("batches") or x.get("n_runs") or 2) - 1, 1)
        ses.append((x["ci_high_ms"] - x["ci_low_ms"]) / 2 / t_quantile(0.5 + confidence / 2, df))
        dfs.append(df)
    return np.array(ses), dfs


def between_variance(networks: list[list[dict[str, Any]]], confidence: float = 0.95) -> tuple[float, int]:
    """Relative between-round variance of a target block (spread of round medians beyond their own errors), df."""
    excess, df = [], 0
    for rounds in networks:
        if len(rounds) < 2:
            continue
        medians = np.array([x["median_ms"] for x in rounds], dtype=np.float64)
        center = float(medians.mean())
        if center <= 0:
            continue
        se, _ = _standard_errors(rounds, confidence)
        excess.append((float(medians.var(ddof=1)) - float((se**2).mean())) / center**2)
        df += len(rounds) - 1
    if not excess:
        return 0.0, 0
    return max(float(np.mean(excess)), 0.0), df


def pool(
    rounds: list[dict[str, Any]],
    confidence: float = 0.95,
    between_rel_var: float | None = None,
    between_df: int = 0,
) -> dict[str, Any]:
    """Median and interval from the rounds' medians and intervals (each: median_ms, ci_low_ms, ci_high_ms, batches).

    `between_rel_var`/`between_df`: the block's relative between-round variance (`between_variance`); without it,
    this network's own rounds estimate it (R - 1 degrees of freedom: wide, but honest).
    """
    r = len(rounds)
    medians = np.array([x["median_ms"] for x in rounds], dtype=np.float64)
    center = float(medians.mean())
    if r == 1:
        only = rounds[0]
        return {"median_ms": center, "ci_low_ms": only["ci_low_ms"], "ci_high_ms": only["ci_high_ms"], "df": None}
    se, dfs = _standard_errors(rounds, confidence)
    se2 = se**2
    within = float(se2.mean()) / r
    if between_rel_var is None or between_df < 1:
        between, b_df = float(medians.var(ddof=1)) / r, r - 1
        within = 0.0  # the spread of the round medians already holds their own errors (classic replications)
        parts = [(between, b_df)]
    else:
        between, b_df = between_rel_var * center**2 / r, between_df
        parts = [(s / r**2, d) for s, d in zip(se2, dfs)] + ([(between, b_df)] if between > 0 else [])
    total = within + between
    denom = sum(v * v / d for v, d in parts)
    df = total * total / denom if denom > 0 else float(sum(dfs))
    half = t_quantile(0.5 + confidence / 2, max(df, 1.0)) * math.sqrt(total)
    # Applied on the log scale (relative half-width, delta method): with one degree of freedom t is 12.7, and an
    # additive interval around two rounds 20% apart went below zero; a ratio interval stays positive.
    rel = half / center if center > 0 else 0.0
    return {
        "median_ms": center,
        "ci_low_ms": min(center * math.exp(-rel), float(medians.min())),
        "ci_high_ms": max(center * math.exp(rel), float(medians.max())),
        "df": round(df, 2),
        "between_share": round(between / total, 4) if total > 0 else 0.0,
    }
