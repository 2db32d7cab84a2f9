"""Bootstrap helpers: intervals with coverage, p-values, Holm, Monte Carlo error."""

import numpy as np
import pytest

from hwbench.analysis.inference import (
    MIN_COVERAGE,
    boot_p_value,
    covered_interval,
    holm,
    interval,
    support_error,
)


def test_interval_matches_numpy_nanquantile() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(200, 30))
    values[rng.random(values.shape) < 0.3] = np.nan
    values[:, 5] = np.nan  # no replicate covers this level
    values[:199, 6] = np.nan  # a single one does
    low, high = interval(values, 0.9)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        ref = np.nanquantile(values, [0.05, 0.95], axis=0)
    assert np.allclose(low, ref[0], equal_nan=True) and np.allclose(high, ref[1], equal_nan=True)


def test_covered_interval_refuses_below_the_coverage_threshold() -> None:
    values = np.random.default_rng(1).normal(size=(100, 2))
    values[:11, 1] = np.nan  # 89% of replicates define column 1
    low, high, coverage = covered_interval(values, 0.95)
    assert np.isfinite(low[0]) and np.isnan(low[1]) and np.isnan(high[1])
    assert coverage[0] == 1.0 and coverage[1] < MIN_COVERAGE


def test_boot_p_value() -> None:
    boot = np.random.default_rng(3).normal(0.3, 0.1, 4000)
    assert boot_p_value(boot, 0.3) == pytest.approx(2 * 0.00135, rel=0.1)  # 3 standard errors from 0
    assert boot_p_value(boot, 0.0) == pytest.approx(1.0)
    assert boot_p_value(np.full(10, 0.5), 0.5) == 0.0 and np.isnan(boot_p_value(np.array([np.nan]), 1.0))


def test_holm_by_hand() -> None:
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.005])
    # sorted: 0.005·4, 0.01·3, 0.03·2, 0.04·1 → 0.02, 0.03, 0.06, 0.06 (monotone)
    assert np.allclose(holm(p), [0.03, 0.06, 0.06, np.nan, 0.02], equal_nan=True)
    assert np.isnan(holm(np.array([np.nan]))).all()


def test_support_error() -> None:
    assert support_error(0.95, 1000) == pytest.approx(np.sqrt(0.95 * 0.05 / 1000))
    assert np.isnan(support_error(0.5, 0))
