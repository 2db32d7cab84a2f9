"""Bootstrap inference shared by the pair analyses: percentile intervals with coverage, p-values, Holm, MC error.

A replicate is "non-covering" where its value is undefined (NaN: a block's replicate has fewer than m networks at
a level). Dropping those replicates silently conditions the interval on a subset; instead the share of covering
replicates is reported, and below MIN_COVERAGE a figure is "not estimable" and gets no interval.
"""

from __future__ import annotations

import numpy as np

MIN_COVERAGE = 0.9  # share of replicates that must define a figure before it gets an interval


def interval(values: np.ndarray, confidence: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval along `axis`, ignoring replicates where the value is undefined (NaN).

    Same numbers as np.nanquantile's linear method, vectorised over columns (nanquantile loops over them).
    """
    alpha = (1 - confidence) / 2
    v = np.moveaxis(np.asarray(values, dtype=float), axis, 0)
    if v.shape[0] == 0:
        empty = np.full(v.shape[1:], np.nan)
        return empty, empty.copy()
    ordered = np.sort(v, axis=0)  # NaN sorts last
    n = (~np.isnan(v)).sum(axis=0)

    def quantile(p: float) -> np.ndarray:
        pos = p * np.maximum(n - 1, 0)
        below = np.floor(pos).astype(int)
        above = np.minimum(below + 1, np.maximum(n - 1, 0))
        a = np.take_along_axis(ordered, below[None], 0)[0]
        b = np.take_along_axis(ordered, above[None], 0)[0]
        with np.errstate(invalid="ignore"):  # inf - inf
            mixed = np.where(a == b, a, a + (b - a) * (pos - below))
        return np.where(n > 0, mixed, np.nan)

    return quantile(alpha), quantile(1 - alpha)


def covered_interval(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, high, coverage) per column of (B, G) replicates; NaN interval where coverage < MIN_COVERAGE."""
    values = np.asarray(values, dtype=float)
    if values.shape[0] == 0:
        nan = np.full(values.shape[1:], np.nan)
        return nan, nan.copy(), nan.copy()
    coverage = np.mean(np.isfinite(values), axis=0)
    low, high = interval(np.where(np.isfinite(values), values, np.nan), confidence)
    ok = coverage >= MIN_COVERAGE
    return np.where(ok, low, np.nan), np.where(ok, high, np.nan), coverage


def boot_p_value(boot: np.ndarray, estimate: float, null: float = 0.0) -> float:
    """Two-sided p-value of `null` from the estimate and the bootstrap standard error of its finite replicates
    (normal reference): unlike a count of replicates beyond the null, it is not floored at 2/(B+1), so Holm over
    dozens of pairs stays possible with 1000 replicates."""
    from scipy import stats

    b = boot[np.isfinite(boot)]
    if b.size < 2:
        return float("nan")
    sd = float(b.std(ddof=1))
    if sd == 0:
        return 0.0 if estimate != null else 1.0
    return float(2 * stats.norm.sf(abs(estimate - null) / sd))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error over every finite p given; NaN stays NaN)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if not finite.size:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    k = finite.size
    adjusted = np.maximum.accumulate(np.minimum(1.0, (k - np.arange(k)) * p[order]))
    out[order] = adjusted
    return out


def support_error(share: float, replicates: int) -> float:
    """Monte Carlo standard error of a share of bootstrap replicates."""
    if not replicates or not np.isfinite(share):
        return float("nan")
    return float(np.sqrt(share * (1 - share) / replicates))
