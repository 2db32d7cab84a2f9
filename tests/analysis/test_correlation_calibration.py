"""Intervals of the FLOPs–latency rank correlation against a known truth (issue 19, finding 10)."""

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.correlation import proxy_correlation


def _sample(rng: np.random.Generator, n: int, rho: float, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1 - rho * rho) * rng.normal(size=n)
    return np.exp(x + shift), np.exp(y + 3 * shift)  # monotone maps keep the rank correlation


@pytest.mark.parametrize(("n", "rho"), [(12, 0.5), (30, 0.8), (200, 0.3)])
def test_spearman_interval_covers_the_population_value(n: int, rho: float) -> None:
    truth = 6 / np.pi * np.arcsin(rho / 2)  # Spearman ρ of a bivariate normal
    tau = 2 / np.pi * np.arcsin(rho)  # and its Kendall τ
    rng = np.random.default_rng(n)
    covered, misorder = [], []
    for _ in range(300):
        macs, ms = _sample(rng, n, rho)
        frame = pd.DataFrame({"target": "t", "status": "ok", "macs": macs, "params": macs, "median_ms": ms})
        row = proxy_correlation(frame).iloc[0]
        covered.append(row["macs_ci_low"] <= truth <= row["macs_ci_high"])
        misorder.append(row["misorder_macs"])
    assert 0.92 <= np.mean(covered) <= 0.985
    assert np.mean(misorder) == pytest.approx((1 - tau) / 2, abs=0.02)


def test_within_block_figure_is_not_fooled_by_simpson() -> None:
    """Blocks whose MACs and latency rise together across blocks, but are unrelated within each block."""
    rng = np.random.default_rng(3)
    parts = []
    for i, block in enumerate("abcd"):
        macs, ms = _sample(rng, 40, 0.0, shift=float(i))
        parts.append(
            pd.DataFrame({"target": "t", "group": block, "status": "ok", "macs": macs, "params": macs, "median_ms": ms})
        )
    row = proxy_correlation(pd.concat(parts)).iloc[0]
    assert row["spearman_macs"] > 0.6  # pooled: looks like a good proxy
    assert row["within_macs_low"] < 0 < row["within_macs_high"]  # within blocks: no evidence at all
