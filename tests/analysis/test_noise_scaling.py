"""The measurement-noise table is calibrated for the median of all runs, not of the ≤512 stored samples."""

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.median_noise import noise_table
from hwbench.runners.local import thin

Q = 100  # quantiles (i + ½)/100: index 2 is the 2.5% quantile, index 97 the 97.5% one


def _trial(rng: np.random.Generator, n_runs: int, scale_runs: bool) -> tuple[float, float, float]:
    runs = rng.lognormal(0.0, 0.1, n_runs)
    frame = pd.DataFrame(
        {
            "median_ms": [float(np.median(runs))],
            "ci_low_ms": [np.nan],
            "ci_high_ms": [np.nan],
            "measure_key": ["k"],
            **({"n_runs": [n_runs]} if scale_runs else {}),
        }
    )
    table = noise_table(frame, {"k": thin(runs)}, Q)[0]
    return table[2], table[97], table.std()


@pytest.mark.parametrize("n_runs", [600, 5000])
def test_scaled_interval_covers_the_true_median_at_its_nominal_rate(n_runs: int) -> None:
    rng = np.random.default_rng(n_runs)
    trials = [_trial(rng, n_runs, True) for _ in range(200)]
    covered = np.mean([lo <= 1.0 <= hi for lo, hi, _ in trials])  # true median of lognormal(0, σ) is 1
    assert 0.90 <= covered <= 0.99
    # The spread of the table matches the sd of the median of n_runs runs (asymptotic: 1.2533·σ/√n for a
    # lognormal with median 1 and small σ).
    true_sd = 1.2533 * 0.1 / np.sqrt(n_runs)
    assert np.median([sd for *_, sd in trials]) == pytest.approx(true_sd, rel=0.2)


def test_unscaled_table_is_too_wide_by_the_square_root_of_the_thinning() -> None:
    rng = np.random.default_rng(7)
    scaled = np.median([_trial(rng, 5000, True)[2] for _ in range(40)])
    unscaled = np.median([_trial(rng, 5000, False)[2] for _ in range(40)])
    assert unscaled / scaled == pytest.approx(np.sqrt(5000 / 512), rel=0.2)  # ≈ 3.1×, the finding's case
