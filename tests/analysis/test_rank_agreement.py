"""Kendall τ across targets with a paired bootstrap, checked against a known truth (issue 19, finding 10)."""

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.rank_agreement import rank_agreement, tau_b

# Per target, each block's latency factor at equal accuracy: the population ranking is known exactly.
FACTORS = {
    "cpu": {"a": 1.0, "b": 1.25, "c": 1.6, "d": 2.0},
    "npu": {"a": 1.0, "b": 1.6, "c": 1.25, "d": 2.0},  # b and c swap: τ = 2/3, same best block
    "gpu": {"a": 2.0, "b": 1.6, "c": 1.25, "d": 1.0},  # reversed: τ = −1 against cpu, another best block
}


# Close blocks: b and c 9% apart, so replicates disagree on their order and the τ interval is wide.
CLOSE = {
    "cpu": {"a": 1.0, "b": 1.15, "c": 1.25, "d": 1.4},
    "npu": {"a": 1.0, "b": 1.25, "c": 1.15, "d": 1.4},
    "gpu": {"a": 1.4, "b": 1.25, "c": 1.15, "d": 1.0},
}


def _population(
    rng: np.random.Generator, n: int = 25, fail_on: str | None = None, factors: dict = FACTORS
) -> pd.DataFrame:
    rows = []
    for block in "abcd":
        acc = rng.uniform(0.8, 0.95, n)
        base = np.exp(12 * (acc - 0.8)) * rng.lognormal(0, 0.1, n)  # latency rises with accuracy
        for target, by_block in factors.items():
            for i in range(n):
                # a conversion failure that is not at random: the slowest networks of d fail on one target
                if target == fail_on and block == "d" and base[i] > np.quantile(base, 0.5):
                    continue
                rows.append(
                    {
                        "target": target,
                        "group": block,
                        "arch_id": f"{block}{i}",
                        "top1": acc[i],
                        "median_ms": by_block[block] * base[i],
                    }
                )
    return pd.DataFrame(rows)


def test_tau_b_matches_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 3, (50, 5)).astype(float), rng.integers(0, 3, (50, 5)).astype(float)
    ours = tau_b(a, b)
    for x, y, t in zip(a, b, ours):
        ref = stats.kendalltau(x, y)[0]
        assert (np.isnan(t) and np.isnan(ref)) or t == pytest.approx(ref)


@pytest.mark.parametrize("factors", [FACTORS, CLOSE], ids=["separated", "close"])
def test_tau_interval_covers_the_true_tau_and_same_best_support(factors: dict) -> None:
    rng = np.random.default_rng(5)
    truth = {("cpu", "gpu"): -1.0, ("cpu", "npu"): 2 / 3, ("gpu", "npu"): -2 / 3}
    covered, support, width = {k: [] for k in truth}, {k: [] for k in truth}, []
    for trial in range(60):
        data = _population(rng, factors=factors)
        table = rank_agreement(data, "top1", n_boot=200, seed=trial).set_index(["target_a", "target_b"])
        for key, tau in truth.items():
            row = table.loc[key]
            covered[key].append(row["tau_ci_low"] - 1e-9 <= tau <= row["tau_ci_high"] + 1e-9)
            support[key].append(row["p_same_best"])
            width.append(row["tau_ci_high"] - row["tau_ci_low"])
    if factors is CLOSE:
        assert np.mean(width) > 0.25  # a real interval, not a point: coverage below is not trivial
    for key in truth:
        assert np.mean(covered[key]) >= 0.9, key
    assert np.mean(support[("cpu", "npu")]) > 0.9  # same best block (a) on both
    assert np.mean(support[("cpu", "gpu")]) < 0.05


def test_only_networks_that_succeed_on_every_target_are_compared() -> None:
    rng = np.random.default_rng(1)
    data = _population(rng, fail_on="npu")
    table = rank_agreement(data, "top1", n_boot=50)
    assert (table["networks"] < 100).all()  # the failed networks of d are left out on every target
    assert table.set_index(["target_a", "target_b"]).loc[("cpu", "npu"), "kendall_tau"] == pytest.approx(2 / 3)


def test_one_target_gives_no_rows() -> None:
    data = _population(np.random.default_rng(2))
    assert rank_agreement(data[data["target"] == "cpu"], "top1", n_boot=10).empty
