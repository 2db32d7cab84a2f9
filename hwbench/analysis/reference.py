"""Reference networks against each block's front: how much faster the block's front is at the reference's quality.

A reference (a known network measured with `hwbench sweep --reference`) is one network, not a population: it
belongs to no block's front, EDF, ranking or verdict. Per target and block, the figure is

    ratio = L_ref / θ_B(a_ref)      (> 1: the block's front is faster than the reference at its accuracy)

with θ_B(a) the block's best-of-m curve (hwbench.analysis.stepfront: the expected lowest latency of m networks
drawn from those reaching quality a), evaluated at the reference's own accuracy a_ref rather than on the level
grid. Its percentile bootstrap interval resamples the block's networks, redraws every median from its measurement
noise and every accuracy from its posterior, and redraws the reference's median and accuracy the same way, so the
reference's own uncertainty (a top-1 measured on a few hundred images moves θ along the curve) is in the interval.
A block is compared only where it reaches the reference: at most at its top, the level REACH·m of its networks
reach; above it the block "does not reach" the reference and is not ranked against it. "faster" needs a
Holm-adjusted p-value over every comparison of the report below 1 − confidence and an interval that excludes 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hwbench.analysis.data import Quality, accuracy_draws, accuracy_spread
from hwbench.analysis.inference import MIN_COVERAGE, boot_p_value, covered_interval, holm
from hwbench.analysis.stepfront import REACH, BlockFront, TargetFronts, stream
from hwbench.space.reference import reference_of

REFERENCE_COLUMNS = [
    "target",
    "reference",
    "arch_id",
    "block",
    "n",
    "m",
    "ref_quality",
    "ref_ms",
    "top",
    "front_ms",
    "ratio",
    "ci_low",
    "ci_high",
    "coverage",
    "p_value",
    "status",
]
# status: compared | does not reach | too few networks | no quality (the reference has no value on the axis)


def reference_mask(frame: pd.DataFrame) -> pd.Series:
    """True for the rows of reference networks (space `reference:<name>`), False for every block's population."""
    if "reference" in frame:
        return frame["reference"].fillna("").astype(str) != ""
    if "space" in frame:
        return frame["space"].map(lambda s: reference_of(s) != "")
    return pd.Series(False, index=frame.index)


def add_reference_column(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with `reference`: the reference's name on its rows, "" on every other row."""
    names = frame["space"].map(reference_of) if "space" in frame else ""
    return frame.assign(reference=names)


def best_of_m_at(q: np.ndarray, lat: np.ndarray, w: np.ndarray, level: np.ndarray, m: int) -> np.ndarray:
    """(b, n) qualities, latencies, multiplicities and (b,) levels → (b,) expected best of m at each row's level
    (the U-statistic of stepfront.best_of_m, one level per replicate); NaN where fewer than m copies reach it."""
    order = np.argsort(lat, axis=1, kind="stable")
    lat_s, q_s, w_s = (np.take_along_axis(np.asarray(a, dtype=float), order, 1) for a in (lat, q, w))
    delta = np.diff(lat_s, axis=1, prepend=0)
    tail = np.where(q_s >= np.asarray(level, dtype=float)[:, None], w_s, 0.0)
    tail = np.cumsum(tail[:, ::-1], axis=1)[:, ::-1]  # copies at rank ≥ i that reach the level
    falling = np.ones_like(tail)
    for i in range(m):
        falling *= np.maximum(tail - i, 0)
    k = tail[:, 0]
    total = np.prod([np.maximum(k - i, 0) for i in range(m)], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = (falling * delta).sum(axis=1) / total
    return np.where(k >= m, value, np.nan)


def compare(
    front: BlockFront,
    ref: dict,
    quality: Quality,
    m: int,
    n_boot: int,
    rng: np.random.Generator,
    confidence: float = 0.95,
) -> dict:
    """One block against one reference: point ratio, interval, coverage, p-value and status.

    `ref`: quality, median_ms, noise ((Q,) median quantiles or None), acc_n and acc_sd (its accuracy's basis).
    """
    row = dict.fromkeys(["top", "front_ms", "ratio", "ci_low", "ci_high", "coverage", "p_value"], np.nan)
    row.update(n=front.n, m=m, top=front.top)
    a_ref = float(ref["quality"])
    if not np.isfinite(a_ref):
        return {**row, "status": "no quality"}
    if not np.isfinite(front.top):
        return {**row, "status": "too few networks"}
    if a_ref > front.top:
        return {**row, "status": "does not reach"}
    n = front.q.size
    theta = best_of_m_at(front.q[None], front.lat[None], np.ones((1, n)), np.array([a_ref]), m)[0]
    row.update(front_ms=theta, ratio=ref["median_ms"] / theta, status="compared")
    if not n_boot or front.noise is None:
        return row
    boot = _boot_ratio(front, ref, quality, m, n_boot, rng)
    low, high, coverage = covered_interval(boot[:, None], confidence)
    row.update(ci_low=low[0], ci_high=high[0], coverage=coverage[0])
    if coverage[0] >= MIN_COVERAGE:
        row["p_value"] = boot_p_value(np.log(boot), float(np.log(row["ratio"])))
    return row


def _boot_ratio(front: BlockFront, ref: dict, quality: Quality, m: int, n_boot: int, rng) -> np.ndarray:
    """(n_boot,) replicates of L_ref / θ_B(a_ref): networks resampled, medians and accuracies redrawn, the
    reference's median and accuracy redrawn too."""
    n = front.q.size
    pick = rng.integers(0, n, (n_boot, n))
    w = np.bincount((pick + n * np.arange(n_boot)[:, None]).ravel(), minlength=n_boot * n).reshape(n_boot, n)
    assert front.noise is not None
    lat = front.noise[np.arange(n)[None, :], rng.integers(0, front.noise.shape[1], (n_boot, n))]
    if front.acc_n is not None or front.acc_sd is not None:
        acc_n = front.acc_n if front.acc_n is not None else np.full(n, np.nan)
        q = accuracy_draws(front.q, acc_n, rng, n_boot, front.acc_sd)
    else:
        q = np.broadcast_to(front.q, (n_boot, n))
    noise = ref.get("noise")
    ref_ms = noise[rng.integers(0, noise.size, n_boot)] if noise is not None else np.full(n_boot, ref["median_ms"])
    a_ref = np.array([ref["quality"]], dtype=float)
    if quality.is_accuracy:
        a_ref = accuracy_draws(a_ref, np.array([ref["acc_n"]]), rng, n_boot, np.array([ref["acc_sd"]]))[:, 0]
    else:
        a_ref = np.full(n_boot, a_ref[0])
    return ref_ms / best_of_m_at(q, lat, w.astype(float), a_ref, m)


def reference_table(
    fronts: dict[str, TargetFronts],
    refs: pd.DataFrame,
    quality: Quality,
    noise: np.ndarray | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Every (target, reference, block): the block's front against the reference (REFERENCE_COLUMNS).

    refs: usable reference rows (one per reference and target, with `reference`); noise: their (rows, Q) median
    quantiles, positional, or None for no intervals. Each comparison draws from its own seeded stream.
    """
    rows = []
    refs = refs.reset_index(drop=True)
    q_all = pd.to_numeric(refs[quality.column], errors="coerce") if quality.column in refs else None
    n_eval, sd_eval = accuracy_spread(refs, quality)
    for i, r in refs.iterrows():
        tf = fronts.get(str(r["target"]))
        if tf is None:
            continue
        ref = {
            "quality": float(q_all.iloc[i]) if q_all is not None else np.nan,
            "median_ms": float(r["median_ms"]),
            "noise": noise[i] if noise is not None and tf.n_boot else None,
            "acc_n": n_eval[i],
            "acc_sd": sd_eval[i],
        }
        for block, front in sorted(tf.blocks.items()):
            rng = stream(tf.seed, tf.target, "reference", str(r["reference"]), block)
            row = compare(front, ref, quality, tf.m, tf.n_boot, rng, confidence)
            row.update(
                target=tf.target,
                reference=r["reference"],
                arch_id=r["arch_id"],
                block=block,
                ref_quality=ref["quality"],
                ref_ms=ref["median_ms"],
            )
            rows.append(row)
    return pd.DataFrame(rows, columns=REFERENCE_COLUMNS)


def with_verdicts(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Holm-adjusted p-values over every comparison given, and who is faster where that is shown: `faster` is
    "front" (the block's front), "reference", or "" (not shown: the interval includes 1, or Holm's p ≥ alpha)."""
    table = table.copy()
    table["p_holm"] = holm(table["p_value"].to_numpy(dtype=float)) if len(table) else []
    shown = (table["p_holm"] < alpha) & ~((table["ci_low"] <= 1) & (table["ci_high"] >= 1))
    shown &= table["ci_low"].notna() & table["ci_high"].notna()
    table["faster"] = np.where(shown, np.where(table["ratio"] > 1, "front", "reference"), "")
    return table


def reference_sentence(row: pd.Series, quality: Quality, m: int = 3) -> str:
    """One comparison in words: "faster" only where `faster` (with_verdicts) says so."""
    ref, block, target = row["reference"], row["block"], row["target"]
    at = f"{ref}'s {quality.fmt(row['ref_quality'])}"
    status = row["status"]
    if status == "no quality":
        return f"{ref} on {target}: no {quality.unit}, so no front compares with it."
    if status == "too few networks":
        few = f"{int(row['n'])} network(s), too few for a best-of-{m} curve ({REACH * m} needed)"
        return f"The {block} front on {target}: {few}; not compared with {ref}."
    if status == "does not reach":
        return (
            f"The {block} front does not reach {at} on {target}: {REACH * m} of its networks reach "
            f"{quality.fmt(row['top'])} at most; not ranked against {ref}."
        )
    r = row["ratio"]
    if not np.isfinite(row["ci_low"]):
        why = (
            "no bootstrap" if not np.isfinite(row["coverage"]) else f"{100 * row['coverage']:.0f}% of replicates cover"
        )
        return f"The {block} front vs {ref} at {at} on {target}: {r:.2f}× ({why}: no interval, no verdict)."
    lo, hi = row["ci_low"], row["ci_high"]
    if row.get("faster") == "front":
        return f"The {block} front is {r:.2f}× ({lo:.2f}–{hi:.2f}) faster than {ref} at {at} on {target}."
    if row.get("faster") == "reference":
        return f"{ref} is {1 / r:.2f}× ({1 / hi:.2f}–{1 / lo:.2f}) faster than the {block} front at {at} on {target}."
    return (
        f"The {block} front and {ref}: no latency difference shown at {at} on {target} "
        f"(reference / front latency {r:.2f}×, interval {lo:.2f}–{hi:.2f})."
    )
