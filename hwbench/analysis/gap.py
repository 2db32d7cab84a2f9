"""Accuracy gap at equal latency: A(t) = the highest level whose best-of-m latency is within t, compared pairwise.

A(t) is read off a block's best-of-m curve θ (hwbench.analysis.stepfront): the highest level a its networks
occupy with θ(a) ≤ t (its lowest occupied level when none is). Latency budgets lie on a fixed absolute grid
(every 5% from 1 ms), restricted to the latencies both blocks' curves span, so a pair's figures never depend on
other blocks. The mean gap over the budgets (each budget an equal slice of log latency) has a percentile
interval; the largest gap each way is descriptive (picked after looking; no interval). A replicate whose
curve is undefined at a level of the block's range is non-covering (counted, never silently dropped).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from hwbench.analysis.inference import MIN_COVERAGE, covered_interval, interval
from hwbench.analysis.stepfront import TargetFronts

BUDGET_STEP = 0.05  # log-latency step of the budget grid
GAP_COLUMNS = [
    "target",
    "block_x",
    "block_y",
    "latency_lo_ms",
    "latency_hi_ms",
    "n_latencies",
    "mean_gap",
    "mean_ci_low",
    "mean_ci_high",
    "coverage",
    "max_gap",
    "max_gap_ms",
    "max_gap_y",
    "max_gap_y_ms",
]
CURVE_COLUMNS = ["target", "block_x", "block_y", "latency_ms", "gap", "ci_low", "ci_high", "coverage"]


def best_within(levels: np.ndarray, curves: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """Highest level whose θ is ≤ each budget, for curves (B, G) on `levels`; the lowest level when none is (a
    budget below a block's cheapest level buys its floor, not "nothing"); NaN where a curve is undefined anywhere
    (a non-covering replicate)."""
    curves = np.atleast_2d(curves)
    # suffix minimum from the top: the highest level with θ ≤ t is the highest with min_{a' ≥ a} θ(a') ≤ t
    suffix = np.minimum.accumulate(curves[:, ::-1], axis=1)[:, ::-1]
    within = suffix[:, :, None] <= budgets[None, None, :]
    top = levels[levels.size - 1 - np.argmax(within[:, ::-1, :], axis=1)]
    out = np.where(within.any(axis=1), top, levels[0])
    return np.where(np.all(np.isfinite(curves), axis=1)[:, None], out, np.nan)


def budget_grid(lo: float, hi: float) -> np.ndarray:
    """Latencies exp(k·BUDGET_STEP) ms in [lo, hi]: an absolute grid, the same for every pair."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0 or hi < lo:
        return np.empty(0)
    k = np.arange(np.ceil(np.log(lo) / BUDGET_STEP - 1e-9), np.floor(np.log(hi) / BUDGET_STEP + 1e-9) + 1)
    return np.exp(k * BUDGET_STEP)


def gap_tables(tf: TargetFronts, confidence: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, summary): gap = A_x(t) − A_y(t) over the latencies both curves span, per pair of blocks."""
    curves, rows = [], []
    for bx, by in combinations(sorted(tf.blocks), 2):
        x, y = tf.blocks[bx], tf.blocks[by]
        row = dict.fromkeys(GAP_COLUMNS, np.nan)
        row.update(target=tf.target, block_x=bx, block_y=by, n_latencies=0)
        rows.append(row)
        ox, oy = x.occupied(tf.levels), y.occupied(tf.levels)
        if not (ox.any() and oy.any()):
            continue
        px, py = x.point[ox], y.point[oy]
        budgets = budget_grid(max(px.min(), py.min()), min(px.max(), py.max()))
        if not budgets.size:
            continue
        lx, ly = tf.levels[ox], tf.levels[oy]
        gap = best_within(lx, px, budgets)[0] - best_within(ly, py, budgets)[0]
        if tf.n_boot:
            boot = best_within(lx, x.boot[:, ox], budgets) - best_within(ly, y.boot[:, oy], budgets)
        else:
            boot = np.full((0, budgets.size), np.nan)
        low, high, coverage = covered_interval(boot, confidence)
        part = {"latency_ms": budgets, "gap": gap, "ci_low": low, "ci_high": high, "coverage": coverage}
        curves.append(pd.DataFrame({"target": tf.target, "block_x": bx, "block_y": by, **part}))
        mean_boot = boot.mean(axis=1) if boot.shape[0] else np.empty(0)
        cov = float(np.mean(np.isfinite(mean_boot))) if mean_boot.size else np.nan
        i, j = int(np.argmax(gap)), int(np.argmin(gap))
        row.update(
            latency_lo_ms=budgets[0],
            latency_hi_ms=budgets[-1],
            n_latencies=int(budgets.size),
            mean_gap=float(gap.mean()),
            coverage=cov,
            max_gap=gap[i],
            max_gap_ms=budgets[i],
            max_gap_y=-gap[j],
            max_gap_y_ms=budgets[j],
        )
        if mean_boot.size and cov >= MIN_COVERAGE:
            m_low, m_high = interval(mean_boot[np.isfinite(mean_boot)][:, None], confidence)
            row.update(mean_ci_low=float(m_low[0]), mean_ci_high=float(m_high[0]))
    curve_frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=CURVE_COLUMNS)
    return curve_frame, pd.DataFrame(rows, columns=GAP_COLUMNS)
