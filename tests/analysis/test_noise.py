"""Noisy results, and the measurement-noise model of each median used by the bootstrap."""

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.median_noise import noise_table, quantiles_from_ci, quantiles_from_samples
from hwbench.analysis.noisy import disturbed_banner, noise_summary, noisy_results


def _results(spread: list[float], converged: list[int], disturbed: list[int] | None = None) -> pd.DataFrame:
    n = len(spread)
    return pd.DataFrame(
        {
            "target": ["t"] * n,
            "group": ["a"] * n,
            "arch_id": [f"a{i}" for i in range(n)],
            "status": ["ok"] * n,
            "median_ms": [1.0] * n,
            # p10/p90 of a normal law with this CoV: 1 ∓ 1.2816·CoV
            "p10_ms": [1 - 1.2815516 * s for s in spread],
            "p90_ms": [1 + 1.2815516 * s for s in spread],
            "cov": [0.5] * n,  # a spike would make CoV large: it is shown, never flagged on
            "rel_ci": [0.01] * n,
            "n_runs": [100] * n,
            "converged": converged,
            **({"disturbed": disturbed} if disturbed is not None else {}),
        }
    )


def test_noisy_by_robust_spread_convergence_and_disturbance() -> None:
    data = _results([0.02, 0.15, 0.30, 0.05, 0.01], [1, 1, 1, 0, 1], [0, 0, 0, 0, 1])
    flagged = noisy_results(data, cov_threshold=0.10)
    assert flagged["arch_id"].tolist() == ["a2", "a1", "a3", "a4"]
    assert flagged.iloc[0]["reason"] == "robust CoV 30.0% > 10%" and "CI of the median" in flagged.iloc[2]["reason"]
    assert flagged.iloc[3]["reason"] == "disturbed during measurement"
    data["disturbed_reason"] = [None] * 4 + ["foreign CPU 35%"]
    assert noisy_results(data, 0.10).iloc[3]["reason"] == "disturbed during measurement (foreign CPU 35%)"
    summary = noise_summary(data, flagged).iloc[0]
    assert (summary["noisy"], summary["not_converged"], summary["disturbed"]) == (4, 1, 1)
    assert noisy_results(data, cov_threshold=0.5)["arch_id"].tolist() == ["a3", "a4"]


def test_one_spike_does_not_flag_an_exact_median() -> None:
    runs = np.r_[np.random.default_rng(0).normal(1.0, 0.01, 999), 60.0]  # one preemption of 60 ms
    data = _results([0.0], [1]).assign(
        p10_ms=np.percentile(runs, 10), p90_ms=np.percentile(runs, 90), cov=runs.std() / runs.mean()
    )
    assert data["cov"].iloc[0] > 1.0 and noisy_results(data, 0.10).empty


def test_banner_counts_disturbed_results_per_target() -> None:
    assert disturbed_banner(_results([0.01, 0.01], [1, 1])) == ""
    assert disturbed_banner(_results([0.01, 0.01], [1, 1], [0, 0])) == ""
    banner = disturbed_banner(_results([0.01, 0.01, 0.01], [1, 1, 1], [1, 0, 1]))
    assert banner.startswith("2 of 3 measured results were disturbed") and "(2 on t)" in banner


@pytest.mark.parametrize("m", [101, 512])
def test_median_quantiles_match_a_brute_force_bootstrap(m: int) -> None:
    rng = np.random.default_rng(m)
    samples = rng.lognormal(0, 0.1, (1, m))
    q = quantiles_from_samples(samples, 32)[0]
    brute = np.median(rng.choice(samples[0], (20000, m)), axis=1)
    probs = (np.arange(32) + 0.5) / 32
    assert q == pytest.approx(np.quantile(brute, probs), rel=2e-3)


def test_noise_from_samples_where_stored_else_from_the_ci() -> None:
    data = pd.DataFrame(
        {"median_ms": [1.0, 2.0], "ci_low_ms": [0.9, 1.96], "ci_high_ms": [1.1, 2.04], "measure_key": ["k0", "k1"]}
    )
    samples = {"k0": np.full(11, 1.5, dtype="<f4").tobytes()}
    table = noise_table(data, samples, 8)
    assert np.all(table[0] == 1.0)  # constant samples: no spread, centred on the stored median of all runs
    assert table[1] == pytest.approx(quantiles_from_ci(np.array([2.0]), [1.96], [2.04], 8)[0])
    assert table[1].std() == pytest.approx(0.0204, rel=0.25)  # sd = CI width / 3.92
