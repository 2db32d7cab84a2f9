"""Measurement noise of each stored median, as a table of quantiles the bootstrap draws from.

A measurement keeps up to 512 raw latency samples. The median of a bootstrap resample of m sorted samples is
the k-th order statistic of the resample, and P(resampled k-th ≤ x_(j)) = P(Binomial(m, j/m) ≥ k): the whole
bootstrap distribution of the median follows from the sorted samples without drawing a single resample. Its
quantiles, one row per network, let the report's bootstrap draw a noisy median with one integer per draw.
Where samples are missing, a normal law with the spread of the stored 95% CI of the median stands in.

The stored samples are an evenly thinned subset (at most 512) of all n_runs timed runs, and the median of n
runs varies as 1/√n: a bootstrap over the stored m samples alone is √(n_runs/m) too wide (3.1× at 5,000 runs).
Each row's quantiles are therefore shrunk towards the stored median (the median of all runs) by √(m/n_runs).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from hwbench.store import Store

QUANTILES = 32


@lru_cache(maxsize=64)
def _order_indices(m: int, k: int, n_quantiles: int) -> np.ndarray:
    """0-based indices j: x_(j) at the quantiles (i+½)/Q of the k-th order statistic of a size-m resample."""
    j = np.arange(1, m + 1)
    cdf = stats.binom.sf(k - 1, m, j / m)  # P(k-th order statistic of a resample ≤ x_(j))
    probs = (np.arange(n_quantiles) + 0.5) / n_quantiles
    return np.minimum(np.searchsorted(cdf, probs, side="left"), m - 1)


def quantiles_from_samples(samples: np.ndarray, n_quantiles: int = QUANTILES) -> np.ndarray:
    """(n, m) raw samples of n measurements → (n, Q) quantiles of the bootstrap distribution of each median."""
    x = np.sort(np.asarray(samples), axis=1)  # in the stored precision: a float64 copy of 100k rows costs more
    m = x.shape[1]
    lower = x[:, _order_indices(m, (m + 1) // 2, n_quantiles)].astype(np.float64)
    if m % 2:
        return lower
    # Even m: the median averages two neighbouring order statistics, which rise and fall together in a
    # resample; pairing their laws at equal quantiles approximates that coupling.
    upper = x[:, _order_indices(m, m // 2 + 1, n_quantiles)].astype(np.float64)
    return (lower + upper) / 2


def quantiles_from_ci(median: np.ndarray, ci_low: np.ndarray, ci_high: np.ndarray, n_quantiles: int = QUANTILES):
    """Normal stand-in: sd = CI width / (2·1.96); zero spread where the CI is unknown."""
    median = np.asarray(median, dtype=np.float64)
    sd = (np.asarray(ci_high, dtype=np.float64) - np.asarray(ci_low, dtype=np.float64)) / (2 * 1.959964)
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 0.0)
    z = stats.norm.ppf((np.arange(n_quantiles) + 0.5) / n_quantiles)
    return np.maximum(median[:, None] + sd[:, None] * z[None, :], median[:, None] * 1e-3)


def scale_to_runs(quantiles: np.ndarray, median: np.ndarray, stored: int, n_runs: np.ndarray) -> np.ndarray:
    """Quantiles of the median of `stored` samples → those of the median of n_runs runs, centred on `median`."""
    runs = np.asarray(n_runs, dtype=np.float64)
    factor = np.sqrt(stored / np.where(np.isfinite(runs) & (runs > stored), runs, stored))
    centre = np.median(quantiles, axis=1)
    median = np.asarray(median, dtype=np.float64)
    return median[:, None] + (quantiles - centre[:, None]) * factor[:, None]


def noise_table(data: pd.DataFrame, samples: dict[str, bytes], n_quantiles: int = QUANTILES) -> np.ndarray:
    """(rows of data, Q) quantiles of each result's median: from raw samples where stored (scaled to the number
    of runs, see the module docstring), else from its CI."""
    table = quantiles_from_ci(data["median_ms"], data["ci_low_ms"], data["ci_high_ms"], n_quantiles)
    keys = data["measure_key"].tolist() if "measure_key" in data else [None] * len(data)
    blobs = [samples.get(key) if key is not None else None for key in keys]
    sizes = np.fromiter((len(b) // 4 if b else 0 for b in blobs), dtype=np.int64, count=len(blobs))
    by_length: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for size in np.unique(sizes[sizes >= 3]):  # at least 3 float32 samples
        rows = np.flatnonzero(sizes == size)
        # One buffer per sample count: decoding 100k blobs one by one cost more than the quantiles themselves.
        values = np.frombuffer(b"".join(blobs[r][: 4 * size] for r in rows), dtype="<f4").reshape(rows.size, size)
        by_length[int(size)] = (rows, values)
    medians = data["median_ms"].to_numpy(dtype=np.float64)
    runs = pd.to_numeric(data["n_runs"], errors="coerce").to_numpy(np.float64) if "n_runs" in data else None
    for stored, (rows, values) in by_length.items():
        quantiles = quantiles_from_samples(values, n_quantiles)
        n_runs = runs[rows] if runs is not None else np.full(rows.size, float(stored))
        table[rows] = scale_to_runs(quantiles, medians[rows], stored, n_runs)
    return table


def load_samples(store: Store, sweeps: list[str]) -> dict[str, bytes]:
    """Raw latency samples (float32 little-endian bytes) of the sweeps' successful measurements, by measure key."""
    marks = ",".join("?" for _ in sweeps)
    rows = store.db.execute(
        "SELECT DISTINCT m.measure_key, m.samples FROM runs r JOIN measurements m ON m.measure_key = r.measure_key "
        f"WHERE r.sweep IN ({marks}) AND m.status = 'ok' AND m.samples IS NOT NULL",
        tuple(sweeps),
    )
    return dict(rows)
