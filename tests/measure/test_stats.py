"""Median CI: order-statistic ranks for small n, batch-median CI coverage on iid series; summary statistics."""

import numpy as np
import pytest

from hwbench.measure.stats import median_ci, order_statistic_ci, summarize, t_quantile


def test_exact_ranks_for_ten_samples() -> None:
    # P(2 <= B(10, 1/2) <= 8) = 0.979 >= 0.95, while P(3 <= B <= 7) = 0.891 is not
    lo, hi, achieved = order_statistic_ci(np.arange(10.0), 0.95)
    assert (lo, hi) == (1.0, 8.0) and achieved == pytest.approx(0.9785, abs=1e-4)


def test_tiny_samples_use_the_full_range_and_say_the_confidence_they_reach() -> None:
    assert median_ci(np.array([3.0, 1.0, 2.0]), 0.95) == (1.0, 3.0)
    # [min, max] of 5 independent runs covers the median with probability 1 - 2/32 only
    assert order_statistic_ci(np.arange(5.0), 0.95)[2] == pytest.approx(1 - 2 / 32)
    assert summarize(np.arange(1, 6) * 1_000_000)["confidence_achieved"] < 0.95


def test_t_quantile_matches_tables() -> None:
    # t(0.975) for 4, 9 and 30 degrees of freedom from any statistics table
    assert t_quantile(0.975, 4) == pytest.approx(2.776, abs=2e-3)
    assert t_quantile(0.975, 9) == pytest.approx(2.262, abs=2e-3)
    assert t_quantile(0.975, 30) == pytest.approx(2.042, abs=2e-3)


@pytest.mark.parametrize("n", [40, 400])
def test_coverage_of_the_median_ci_on_skewed_iid_runs(n: int) -> None:
    rng = np.random.default_rng(0)
    true_median = np.log(2)  # of Exp(1), a skewed latency-like distribution
    trials = 600
    hits = sum(lo <= true_median <= hi for lo, hi in (median_ci(rng.exponential(size=n)) for _ in range(trials)))
    assert 0.90 <= hits / trials <= 0.995


def test_summary_in_milliseconds() -> None:
    ns = np.array([1_000_000, 2_000_000, 3_000_000, 4_000_000, 100_000_000], dtype=np.int64)
    s = summarize(ns)
    assert s["median_ms"] == 3.0 and s["min_ms"] == 1.0 and s["n_runs"] == 5
    assert s["mean_ms"] == pytest.approx(22.0)
    assert s["ci_low_ms"] <= s["median_ms"] <= s["ci_high_ms"]


def test_empty_samples_rejected() -> None:
    with pytest.raises(ValueError):
        summarize(np.array([], dtype=np.int64))
