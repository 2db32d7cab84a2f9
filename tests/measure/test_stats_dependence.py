"""The median's interval on dependent series (issue 19 finding 6): seeded AR(1) simulations, trend detection."""

import math

import numpy as np
import pytest

from hwbench.measure.stats import order_statistic_ci, robust_median, trend

TRIALS = 300


def ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    """Stationary Gaussian AR(1) with unit marginal variance."""
    e = rng.standard_normal(n) * math.sqrt(1 - rho**2)
    x = np.empty(n)
    x[0] = rng.standard_normal()
    for i in range(1, n):
        x[i] = rho * x[i - 1] + e[i]
    return x


def latency(rng: np.random.Generator, n: int, rho: float, sigma: float = 0.1) -> np.ndarray:
    """Latency-like series: log-normal around 1 ms (true median exactly 1), serially dependent."""
    return np.exp(sigma * ar1(rng, n, rho))


@pytest.mark.parametrize(("rho", "n"), [(0.0, 200), (0.5, 300), (0.9, 600)])
def test_coverage_on_dependent_series(rho: float, n: int) -> None:
    rng = np.random.default_rng(int(rho * 10) + n)
    hits = long_enough = 0
    for _ in range(TRIALS):
        found = robust_median(latency(rng, n, rho))
        hits += found["ci_low"] <= 1.0 <= found["ci_high"]
        long_enough += found["enough"]
    assert hits / TRIALS >= 0.90, f"coverage {hits / TRIALS:.3f} for rho={rho}"
    assert long_enough / TRIALS >= 0.9  # these lengths span enough autocorrelation times


def test_independent_runs_interval_fails_where_the_robust_one_holds() -> None:
    # The check has teeth: the binomial interval (independent runs) undercovers badly at rho = 0.9.
    rng = np.random.default_rng(9)
    iid = sum(lo <= 1.0 <= hi for lo, hi, _ in (order_statistic_ci(latency(rng, 600, 0.9)) for _ in range(200)))
    assert iid / 200 < 0.6


def test_short_strongly_dependent_series_is_not_long_enough() -> None:
    rng = np.random.default_rng(3)
    short = [robust_median(latency(rng, 60, 0.9)) for _ in range(50)]
    assert sum(f["enough"] for f in short) / 50 < 0.3  # a timing loop keeps going rather than stop here


def test_effective_n_shrinks_with_dependence() -> None:
    rng = np.random.default_rng(4)
    iid = np.median([robust_median(latency(rng, 600, 0.0))["n_eff"] for _ in range(40)])
    dep = np.median([robust_median(latency(rng, 600, 0.9))["n_eff"] for _ in range(40)])
    assert iid > 300 and dep < iid / 4  # AR(1) rho=0.9: about n/19 effective runs


def test_trend_detected_and_stationary_series_rarely_flagged() -> None:
    rng = np.random.default_rng(5)
    ramps = 0
    false = 0
    for _ in range(200):
        x = latency(rng, 300, 0.5, sigma=0.03)  # 3% run-to-run noise, as on a quiet CPU
        false += trend(x, robust_median(x).get("batch_medians"))["significant"]
        ramp = x * np.linspace(1.0, 1.10, 300)  # 10% slow-down across the window (heating)
        found = trend(ramp, robust_median(ramp).get("batch_medians"))
        ramps += found["significant"] and found["drift"] > 0.05
    assert ramps / 200 >= 0.9
    assert false / 200 <= 0.05
