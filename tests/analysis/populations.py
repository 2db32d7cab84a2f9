"""Synthetic block populations with a known best-of-m curve, for the calibration suite and its benchmark."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from hwbench.analysis.data import ACCURACY
from hwbench.analysis.stepfront import M, TargetFronts, block_front, bootstrap_front, level_grid, stream

LOW, HIGH, SLOPE, SPREAD = 0.6, 0.8, 8.0, 0.15


def draw(rng: np.random.Generator, n: int, factor: float = 1.0, low: float = LOW, high: float = HIGH):
    """n networks: accuracy uniform on [low, high], latency exp(SLOPE·(q − low))·lognormal(0, SPREAD)·factor."""
    q = rng.uniform(low, high, n)
    return q, factor * np.exp(SLOPE * (q - LOW) + rng.normal(0, SPREAD, n))


@lru_cache(maxsize=8)
def true_curve(levels: tuple[float, ...], m: int = M, size: int = 400_000) -> np.ndarray:
    """θ(a) of the population (factor 1) at the levels, from one very large sample (U-statistic ≈ exact)."""
    q, lat = draw(np.random.default_rng(12345), size)
    out = []
    for a in levels:
        x = np.sort(lat[q >= a])
        k = x.size
        tail = k - np.arange(k)  # copies at rank ≥ i
        p_ge = np.exp(sum(np.log(np.maximum(tail - i, 1e-300)) - np.log(k - i) for i in range(m)))
        out.append(float(np.sum(np.diff(x, prepend=0) * p_ge)))
    return np.array(out)


def fronts(blocks: dict[str, tuple[np.ndarray, np.ndarray]], n_boot: int, seed: int, m: int = M) -> TargetFronts:
    """A target's best-of-m curves and replicates (no measurement noise) straight from arrays."""
    levels = level_grid(min(q.min() for q, _ in blocks.values()), max(q.max() for q, _ in blocks.values()), False)
    tf = TargetFronts("t", ACCURACY, levels, n_boot=n_boot, m=m, seed=seed)
    for name, (q, lat) in sorted(blocks.items()):
        front = tf.blocks[name] = block_front(name, q, lat, levels, m)
        if n_boot:
            front.boot = bootstrap_front(front, levels, n_boot, stream(seed, "t", name), m)
    return tf
