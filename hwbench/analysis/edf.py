"""Error EDFs per block, plain and complexity-normalised (the distribution view of Radosavovic et al.).

F(e) = (weighted) fraction of a block's networks with error < e. The normalised EDF splits the log-complexity
range of all blocks' networks into k equal bins and keeps the *common* bins: those every block fills with at
least MIN_PER_BIN networks. Each of a block's m_j networks in common bin j weighs 1/(K·m_j), K the number of common
bins, so every block is averaged over the same complexity bins with equal weight each: two blocks with the same
error-vs-complexity law get the same normalised EDF whatever complexities they happened to sample. Networks
outside the common bins weigh 0 (n_used says how many count). Accuracy belongs to the network, not the target,
so each network counts once.

Bands: a simultaneous DKW band F̂ ± √(ln(2/α) / (2·n_eff)), n_eff = 1/Σw² (the plain EDF: n_eff = n, the exact
DKW inequality; normalised: the stratified estimator's variance is at most that of n_eff equal-weight networks).
The weighted mean error gets a normal interval from the within-bin variances. Both are checked by simulation
(tests/analysis/test_edf_calibration.py, docs/statistics.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

EDF_COLUMNS = ["group", "kind", "error", "edf_below", "edf_upto", "band"]
SUMMARY_COLUMNS = [
    "group",
    "kind",
    "n",
    "n_used",
    "bins",
    "min_error",
    "mean_error",
    "mean_ci_low",
    "mean_ci_high",
    "band",
]
MIN_PER_BIN = 3


def edf_at(errors: np.ndarray, points: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """F(e) at each point: the weighted fraction of errors strictly below it."""
    errors = np.asarray(errors, dtype=float)
    w = np.ones_like(errors) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(errors)
    cum = np.concatenate([[0.0], np.cumsum(w[order])]) / w.sum()
    return cum[np.searchsorted(errors[order], np.asarray(points, dtype=float), side="left")]


def bin_index(complexity: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bin of each network over shared edges (the top edge belongs to the last bin)."""
    return np.clip(np.searchsorted(edges, complexity, side="right") - 1, 0, edges.size - 2)


def common_bins(bins_by_block: list[np.ndarray], n_bins: int, min_per_bin: int = MIN_PER_BIN) -> np.ndarray:
    """Bins every block fills with at least min_per_bin networks."""
    counts = np.array([np.bincount(b, minlength=n_bins) for b in bins_by_block])
    return np.flatnonzero((counts >= min_per_bin).all(axis=0))


def bin_weights(bins: np.ndarray, common: np.ndarray) -> np.ndarray:
    """Weights 1/(K·m_j) for one block's networks in the K common bins, 0 outside them."""
    counts = np.bincount(bins, minlength=int(bins.max(initial=0)) + 1)
    inside = np.isin(bins, common)
    w = np.zeros(bins.size)
    if common.size:
        w[inside] = 1.0 / (common.size * counts[bins[inside]])
    return w


def complexity_edges(complexity: np.ndarray, k: int) -> np.ndarray:
    """k equal-width bins over log-complexity, spanning every network."""
    logs = np.log10(np.asarray(complexity, dtype=float))
    lo, hi = logs.min(), logs.max()
    if hi <= lo:
        hi = lo + 1e-9
    return 10 ** np.linspace(lo, hi, k + 1)


def dkw_band(weights: np.ndarray, confidence: float = 0.95) -> float:
    """Half-width of the simultaneous band at the effective sample size 1/Σw² (weights summing to 1)."""
    w = np.asarray(weights, dtype=float)
    n_eff = 1.0 / np.sum((w / w.sum()) ** 2)
    return float(np.sqrt(np.log(2 / (1 - confidence)) / (2 * n_eff)))


def weighted_mean_ci(
    errors: np.ndarray, weights: np.ndarray, bins: np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Weighted mean error and its normal interval from the within-bin (stratum) variances."""
    w = weights / weights.sum()
    mean = float(np.sum(w * errors))
    var = 0.0
    for j in np.unique(bins[w > 0]):
        e, wj = errors[(bins == j) & (w > 0)], w[(bins == j) & (w > 0)].sum()
        var += wj**2 * (e.var(ddof=1) if e.size > 1 else 0.0) / e.size
    half = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(var)
    return mean, mean - half, mean + half


def networks(data: pd.DataFrame, column: str = "top1") -> pd.DataFrame:
    """One row per network with an accuracy: group, arch_id, error, complexity."""
    has = data[data[column].notna()] if column in data else data.iloc[:0]
    rows = has.drop_duplicates("arch_id", keep="last")[["group", "arch_id", column, "macs", "params"]]
    return rows.assign(error=1.0 - rows[column].astype(float)).reset_index(drop=True)


def edf_tables(
    data: pd.DataFrame, complexities: tuple[str, ...] = ("macs", "params"), k: int = 10, confidence: float = 0.95
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, summary) per block: the plain EDF and one normalised EDF per complexity measure (over common
    bins; absent when the blocks share no bin with ≥ MIN_PER_BIN networks each)."""
    nets = networks(data)
    if nets.empty:
        return pd.DataFrame(columns=EDF_COLUMNS), pd.DataFrame(columns=SUMMARY_COLUMNS)
    groups = dict(tuple(nets.groupby("group", sort=True)))
    kinds: dict[str, dict[str, tuple[np.ndarray, np.ndarray, int]]] = {"plain": {}}
    for g, part in groups.items():
        kinds["plain"][g] = (np.full(len(part), 1.0 / len(part)), np.zeros(len(part), dtype=int), 0)
    for c in complexities:
        if not (nets[c] > 0).all():
            continue
        edges = complexity_edges(nets[c].to_numpy(dtype=float), k)
        bins = {g: bin_index(part[c].to_numpy(dtype=float), edges) for g, part in groups.items()}
        common = common_bins(list(bins.values()), k)
        if common.size:
            kinds[f"{c}-normalised"] = {g: (bin_weights(b, common), b, int(common.size)) for g, b in bins.items()}
    curves, summary = [], []
    for kind, by_group in kinds.items():
        for g, (w, bins, n_bins) in by_group.items():
            err = groups[g]["error"].to_numpy()
            points = np.unique(err[w > 0])
            band = dkw_band(w, confidence)
            curves.append(
                pd.DataFrame(
                    {
                        "group": g,
                        "kind": kind,
                        "error": points,
                        "edf_below": edf_at(err, points, w),
                        "edf_upto": edf_at(err, np.nextafter(points, np.inf), w),
                        "band": band,
                    }
                )
            )
            mean, low, high = weighted_mean_ci(err, w, bins, confidence)
            summary.append(
                {
                    "group": g,
                    "kind": kind,
                    "n": err.size,
                    "n_used": int((w > 0).sum()),
                    "bins": n_bins or None,
                    "min_error": err[w > 0].min(),
                    "mean_error": mean,
                    "mean_ci_low": low,
                    "mean_ci_high": high,
                    "band": band,
                }
            )
    table = pd.DataFrame(summary, columns=SUMMARY_COLUMNS).astype({"bins": "Int64"})
    return pd.concat(curves, ignore_index=True), table
