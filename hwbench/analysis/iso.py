"""Latency at equal accuracy: how much faster one block is than another, from their best-of-m curves.

For blocks X and Y on one target, speedup(a) = θ_Y(a) / θ_X(a) (> 1: X is faster at quality a), θ the expected
best latency of m networks reaching a (hwbench.analysis.stepfront), over the levels both blocks estimate: their
shared range. The headline is the geometric mean of the speedup over that range (every level of the fixed grid
weighs the same, i.e. each holds an equal slice of accuracy), with a percentile bootstrap interval and a
bootstrap p-value; the report calls a block faster only when the Holm-adjusted p-value over every pair of the
report is below 1 − confidence (analyse.py applies Holm). The speedup at mid-range has a pointwise interval; the
largest speedup each way is descriptive only: it is found by looking at every level, and a sup-t band over levels
was tried and held in only 84% of trials for identical blocks of 30 networks (nominal 95%), so none is given.
A pair's figures use only its two blocks' networks and bootstrap streams: adding a block never changes them.
"""

from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np
import pandas as pd

from hwbench.analysis.data import Quality
from hwbench.analysis.inference import MIN_COVERAGE, boot_p_value, covered_interval, interval
from hwbench.analysis.stepfront import TargetFronts

__all__ = ["interval", "pair_tables", "slowdown_curves", "speedup_sentence"]

PAIR_CURVE_COLUMNS = [
    "target",
    "block_x",
    "block_y",
    "level",
    "speedup",
    "ci_low",
    "ci_high",
    "coverage",
]
SLOWDOWN_COLUMNS = ["target", "block", "level", "slowdown", "ci_low", "ci_high", "coverage"]
PAIR_COLUMNS = [
    "target",
    "block_x",
    "block_y",
    "n_x",
    "n_y",
    "m",
    "lo_x",
    "top_x",
    "lo_y",
    "top_y",
    "overlap_lo",
    "overlap_hi",
    "n_levels",
    "geomean_speedup",
    "geo_ci_low",
    "geo_ci_high",
    "coverage",
    "p_value",
    "ref_level",
    "speedup",
    "ci_low",
    "ci_high",
    "max_speedup",
    "max_level",
    "max_speedup_y",
    "max_level_y",
    "n_note",
]


def shared(tf: TargetFronts, bx: str, by: str) -> np.ndarray:
    """Levels both blocks' networks occupy and both estimate: from the higher of their least accurate networks to
    the lower of their tops (each block has ≥ REACH·m networks at or above them)."""
    return tf.blocks[bx].occupied(tf.levels) & tf.blocks[by].occupied(tf.levels)


def boot_ratio(tf: TargetFronts, bx: str, by: str, mask: np.ndarray) -> np.ndarray:
    """(B, levels) bootstrap speedup of X over Y on the masked levels; NaN where a replicate does not define it."""
    x, y = tf.blocks[bx], tf.blocks[by]
    if x.boot is None or y.boot is None:
        return np.full((0, int(mask.sum())), np.nan)
    return y.boot[:, mask] / x.boot[:, mask]


def pair_tables(tf: TargetFronts, confidence: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, summary) for every pair of blocks on one target: speedup of block_x over block_y."""
    curves, rows = [], []
    for bx, by in combinations(sorted(tf.blocks), 2):
        mask = shared(tf, bx, by)
        levels = tf.levels[mask]
        speedup = tf.blocks[by].point[mask] / tf.blocks[bx].point[mask]
        boot = boot_ratio(tf, bx, by, mask)
        low, high, coverage = covered_interval(boot, confidence)
        curve = {"level": levels, "speedup": speedup, "ci_low": low, "ci_high": high, "coverage": coverage}
        curves.append(
            pd.DataFrame({"target": tf.target, "block_x": bx, "block_y": by, **curve}).reindex(
                columns=PAIR_CURVE_COLUMNS
            )
        )
        rows.append(_summary(tf, bx, by, mask, speedup, boot, (low, high), confidence))
    curve_frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=PAIR_CURVE_COLUMNS)
    return curve_frame, pd.DataFrame(rows, columns=PAIR_COLUMNS)


def _summary(tf, bx, by, mask, speedup, boot, ci, confidence) -> dict:
    """One row: the geometric mean over the shared range, the speedup at mid-range and the largest each way."""
    x, y = tf.blocks[bx], tf.blocks[by]
    levels = tf.levels[mask]
    row = dict.fromkeys(PAIR_COLUMNS, np.nan)
    row.update(target=tf.target, block_x=bx, block_y=by, n_x=x.n, n_y=y.n, m=tf.m, n_levels=int(levels.size))
    row.update(lo_x=x.lo, top_x=x.top, lo_y=y.lo, top_y=y.top)
    row["n_note"] = _n_note(x.n, y.n)
    if not levels.size:
        return row
    log_mean = np.log(speedup).mean()
    boot_mean = np.log(boot).mean(axis=1) if boot.shape[0] else np.empty(0)  # NaN unless defined everywhere
    coverage = float(np.mean(np.isfinite(boot_mean))) if boot_mean.size else np.nan
    row.update(overlap_lo=levels[0], overlap_hi=levels[-1], geomean_speedup=float(np.exp(log_mean)), coverage=coverage)
    if boot_mean.size and coverage >= MIN_COVERAGE:
        g_low, g_high = interval(boot_mean[np.isfinite(boot_mean)][:, None], confidence)
        row.update(geo_ci_low=float(np.exp(g_low[0])), geo_ci_high=float(np.exp(g_high[0])))
        row["p_value"] = boot_p_value(boot_mean, log_mean)
    ref = int(np.argmin(np.abs(levels - tf.quality.mid(levels[0], levels[-1]))))
    best, best_y = int(np.argmax(speedup)), int(np.argmin(speedup))
    row.update(
        ref_level=levels[ref],
        speedup=speedup[ref],
        ci_low=ci[0][ref],
        ci_high=ci[1][ref],
        max_speedup=speedup[best],
        max_level=levels[best],  # descriptive: no interval (see the module docstring)
        max_speedup_y=1 / speedup[best_y],
        max_level_y=levels[best_y],
    )
    return row


def _n_note(n_x: int, n_y: int) -> str:
    """A warning when the blocks' sample sizes differ by 2× or more (the estimand does not, the precision does)."""
    if min(n_x, n_y) and max(n_x, n_y) >= 2 * min(n_x, n_y):
        return f"network counts differ ({n_x} vs {n_y}): the smaller block's uncertainty dominates the interval"
    return ""


def slowdown_curves(tf: TargetFronts, confidence: float = 0.95) -> pd.DataFrame:
    """Per block: θ over the lowest θ of any block at each level it estimates (≥ 1; 1 where it is the best)."""
    blocks = sorted(tf.blocks)
    if not blocks:
        return pd.DataFrame(columns=SLOWDOWN_COLUMNS)
    with warnings.catch_warnings():  # levels no block estimates stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        best = np.nanmin(np.array([tf.blocks[b].compared for b in blocks]), axis=0)
        boots = [np.where(tf.blocks[b].estimable, tf.blocks[b].boot, np.nan) for b in blocks] if tf.n_boot else []
        boot_best = np.nanmin(np.array(boots), axis=0) if tf.n_boot else None
    frames = []
    for block in blocks:
        f = tf.blocks[block]
        mask = f.occupied(tf.levels)
        low = high = coverage = np.full(int(mask.sum()), np.nan)
        if boot_best is not None:
            low, high, coverage = covered_interval(f.boot[:, mask] / boot_best[:, mask], confidence)
        frames.append(
            pd.DataFrame(
                {
                    "target": tf.target,
                    "block": block,
                    "level": tf.levels[mask],
                    "slowdown": f.point[mask] / best[mask],
                    "ci_low": low,
                    "ci_high": high,
                    "coverage": coverage,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def speedup_sentence(row: pd.Series, quality: Quality, target: str, alpha: float = 0.05) -> str:
    """The pair in words; 'faster' only when the Holm-adjusted p-value (column p_holm) is below alpha."""
    x, y = row["block_x"], row["block_y"]
    m = int(row["m"]) if np.isfinite(row["m"]) else 0
    if not row["n_levels"]:
        small = [
            f"{b} has {int(row[f'n_{k}'])} network(s)" for b, k in ((x, "x"), (y, "y")) if np.isnan(row[f"top_{k}"])
        ]
        if small:
            return f"{x} vs {y} on {target}: not compared, {' and '.join(small)} (a best-of-{m} curve needs {3 * m})."
        return (
            f"{x} ({quality.span(row['lo_x'], row['top_x'])}) and {y} ({quality.span(row['lo_y'], row['top_y'])}) "
            f"share no {quality.label} level on {target}: not compared (a block's range runs from its least "
            f"accurate network to the level {3 * m} of its networks reach)."
        )
    span = quality.span(row["overlap_lo"], row["overlap_hi"])
    if not np.isfinite(row["geo_ci_low"]):
        cov = f"{100 * row['coverage']:.0f}%" if np.isfinite(row["coverage"]) else "no"
        return (
            f"{x} vs {y} over {span} on {target}: not estimable ({cov} of bootstrap replicates hold {m} networks "
            f"of each block at every level; {100 * MIN_COVERAGE:.0f}% needed)."
        )
    s, lo, hi = row["geomean_speedup"], row["geo_ci_low"], row["geo_ci_high"]
    fast, slow, r, r_lo, r_hi = (x, y, s, lo, hi) if s >= 1 else (y, x, 1 / s, 1 / hi, 1 / lo)
    p_holm = row.get("p_holm", row["p_value"])
    p_text = f"Holm-adjusted p = {p_holm:.3g}" if np.isfinite(p_holm) else "no p-value"
    if np.isfinite(p_holm) and p_holm < alpha and not lo <= 1 <= hi:
        text = (
            f"{fast} is {r:.2f}× ({r_lo:.2f}–{r_hi:.2f}) faster than {slow} on average over {span} on {target} "
            f"({p_text}; expected best of {m} networks)"
        )
    else:
        text = (
            f"{x} and {y}: no latency difference shown over {span} on {target} ({slow} / {fast} latency "
            f"{r:.2f}×, interval {r_lo:.2f}–{r_hi:.2f}; {p_text})"
        )
    note = f". Note: {row['n_note']}" if isinstance(row.get("n_note"), str) and row["n_note"] else ""
    return text + note + "."
