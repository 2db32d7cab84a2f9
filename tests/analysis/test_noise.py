"""Noisy results, and the measurement-noise model of each median used by the bootstrap."""

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.median_noise import noise_table, quantiles_from_ci, quantiles_from_samples
from hwbench.analysis.noisy import noise_summary, noisy_results


def test_noisy_by_threshold_and_convergence() -> None:
    data = pd.DataFrame(
        {
            "target": ["t"] * 4,
            "group": ["a"] * 4,
            "arch_id": ["a0", "a1", "a2", "a3"],
            "median_ms": [1.0, 1.0, 1.0, 1.0],
            "cov": [0.02, 0.15, 0.30, 0.05],
            "rel_ci": [0.01] * 4,
            "n_runs": [100] * 4,
            "converged": [1, 1, 1, 0],
        }
    )
    flagged = noisy_results(data, cov_threshold=0.10)
    assert flagged["arch_id"].tolist() == ["a2", "a1", "a3"]
    assert flagged.iloc[0]["reason"] == "CoV 30.0% > 10%" and "CI of the median" in flagged.iloc[2]["reason"]
    summary = noise_summary(data, flagged).iloc[0]
    assert (summary["noisy"], summary["not_converged"], summary["share_noisy"]) == (3, 1, 0.75)
    assert noisy_results(data, cov_threshold=0.5)["arch_id"].tolist() == ["a3"]


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
