"""Two sweeps side by side, on hand-checked tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from hwbench.analysis.compare import IDENTICAL, MISSING, UNKNOWN, pair_sweeps, spearman, summarise
from hwbench.errors import HwbenchError


def _frame(ms: list[float | None], hashes: list[str | None], target: str = "t") -> pd.DataFrame:
    rows = []
    for i, (m, h) in enumerate(zip(ms, hashes)):
        rows.append(
            {
                "arch_id": f"n{i}",
                "target": target,
                "space": "s",
                "status": "ok" if m is not None else "measure_error",
                "median_ms": m,
                "ci_low_ms": None if m is None else m * 0.98,
                "ci_high_ms": None if m is None else m * 1.02,
                "artifact_hash": h,
                "format": "onnx",
            }
        )
    return pd.DataFrame(rows)


def test_pairs_and_summary_hand_checked() -> None:
    a = _frame([1.0, 2.0, 3.0, 4.0, 5.0], ["h0", "h1", "h2", "h3", None])
    b = _frame([1.01, 2.2, 2.7, None, 5.0], ["h0", "h1", "x2", "h3", "h4"])
    pairs = pair_sweeps(a, b).set_index("arch_id")
    assert list(pairs["identity"]) == [IDENTICAL, IDENTICAL, UNKNOWN, IDENTICAL, MISSING]
    assert pairs.loc["n1", "ratio"] == pytest.approx(1.1)
    assert np.isnan(pairs.loc["n3", "ratio"])  # B failed: no ratio, not counted below
    # 1.01 lies in A's [0.98, 1.02]; 1.0 in B's [0.9898, 1.0302]; 2.2 outside A's [1.96, 2.04]
    assert bool(pairs.loc["n0", "b_in_a"]) and bool(pairs.loc["n0", "a_in_b"])
    assert not bool(pairs.loc["n1", "b_in_a"]) and not bool(pairs.loc["n2", "a_in_b"])
    [s] = summarise(pairs.reset_index()).to_dict("records")
    assert (s["networks"], s["identical"], s["measured_both"]) == (5, 3, 4)
    ratios = [1.01, 1.1, 0.9, 1.0]
    assert s["median_ratio"] == pytest.approx(np.median(ratios))
    assert s["median_abs_delta"] == pytest.approx(np.median([0.01, 0.1, 0.1, 0.0]))
    assert (s["b_in_a"], s["a_in_b"]) == (2, 2)  # n0 and n4 both ways
    assert s["spearman"] == pytest.approx(1.0)


def test_only_shared_pairs_and_clear_error_when_none() -> None:
    a = _frame([1.0, 2.0], ["h0", "h1"], target="t1")
    b = _frame([1.0, 2.0], ["h0", "h1"], target="t2")
    with pytest.raises(HwbenchError, match="share no"):
        pair_sweeps(a, b)


def test_spearman_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.integers(0, 6, size=12).astype(float)
        y = x + rng.normal(0, 2, size=12)
        assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)
    assert np.isnan(spearman(np.array([1.0, 2.0]), np.array([1.0, 2.0])))
    assert np.isnan(spearman(np.ones(4), np.arange(4.0)))


def _simulated(true_ms: np.ndarray, scale: float, rng: np.random.Generator) -> pd.DataFrame:
    """A sweep's medians: the true latency times `scale`, with 1% measurement noise and a ±3% interval."""
    measured = true_ms * scale * (1 + rng.normal(0, 0.01, size=len(true_ms)))
    frame = _frame(list(measured), [f"h{i}" for i in range(len(true_ms))])
    frame["ci_low_ms"], frame["ci_high_ms"] = measured * 0.97, measured * 1.03
    return frame


@pytest.mark.parametrize("seed", range(5))
def test_summary_recovers_a_known_slowdown(seed: int) -> None:
    rng = np.random.default_rng(seed)
    true_ms = np.exp(rng.uniform(np.log(1), np.log(50), size=30))
    same = summarise(pair_sweeps(_simulated(true_ms, 1.0, rng), _simulated(true_ms, 1.0, rng))).iloc[0]
    slower = summarise(pair_sweeps(_simulated(true_ms, 1.0, rng), _simulated(true_ms, 1.10, rng))).iloc[0]
    assert abs(same["median_ratio"] - 1.0) < 0.01 and same["median_abs_delta"] < 0.02
    assert same["b_in_a"] >= 27  # 1.4% noise on the difference against a 3% interval: nearly all inside
    assert abs(slower["median_ratio"] - 1.10) < 0.01 and abs(slower["median_abs_delta"] - 0.10) < 0.01
    assert slower["b_in_a"] == 0  # a 10% shift is far outside a 3% interval
    assert same["spearman"] > 0.99 and slower["spearman"] > 0.99  # a uniform slowdown keeps the ranking
    assert same["identical"] == slower["identical"] == 30
