"""Accuracy as a binomial proportion: Wilson intervals, posterior redraws, and what the header says."""

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.data import accuracy_basis, accuracy_draws, wilson_interval, with_accuracy_ci


@pytest.mark.parametrize("n", [359, 2000])
@pytest.mark.parametrize("p", [0.5, 0.9, 0.97])
def test_wilson_interval_covers_the_true_accuracy_at_its_nominal_rate(n: int, p: float) -> None:
    rng = np.random.default_rng(n + int(1000 * p))
    measured = rng.binomial(n, p, 2000) / n
    lo, hi = wilson_interval(measured, np.full(measured.size, n))
    covered = np.mean((lo <= p) & (p <= hi))
    assert 0.92 <= covered <= 0.985


def test_unknown_evaluation_size_gives_no_interval_and_no_redraw() -> None:
    lo, hi = wilson_interval(np.array([0.9, 0.9]), np.array([np.nan, 359]))
    assert np.isnan(lo[0]) and np.isnan(hi[0]) and lo[1] < 0.9 < hi[1]
    draws = accuracy_draws(np.array([0.9, 0.9]), np.array([np.nan, 359]), np.random.default_rng(0), 4000)
    assert np.all(draws[:, 0] == 0.9)
    # Jeffreys posterior of 323/359: mean ≈ 0.899, sd ≈ √(p(1−p)/n) ≈ 0.0158
    assert draws[:, 1].mean() == pytest.approx(0.9, abs=0.002)
    assert draws[:, 1].std() == pytest.approx(np.sqrt(0.09 / 359), rel=0.08)


def test_posterior_draws_cover_the_truth() -> None:
    """The 95% range of the redraws covers the true accuracy about 95% of the time (what the bootstrap relies on)."""
    rng = np.random.default_rng(3)
    n, p = 359, 0.95
    covered = []
    for _ in range(300):
        measured = rng.binomial(n, p) / n
        draws = accuracy_draws(np.array([measured]), np.array([n]), rng, 2000)[:, 0]
        lo, hi = np.quantile(draws, [0.025, 0.975])
        covered.append(lo <= p <= hi)
    assert 0.91 <= np.mean(covered) <= 0.99


def test_accuracy_basis_states_images_resolution_and_one_image_in_points() -> None:
    frame = pd.DataFrame(
        {
            "arch_id": ["a", "b", "c"],
            "top1": [0.9, 0.95, np.nan],
            "dataset": ["digits", "digits", None],
            "schedule": ["demo", "demo", None],
            "eval_images": [359, 359, np.nan],
            "eval_resolution": [32, 32, np.nan],
        }
    )
    basis = accuracy_basis(frame).iloc[0]
    assert (basis["networks"], basis["eval_images"], basis["resolution"]) == (2, 359, 32)
    assert basis["one_image_points"] == pytest.approx(0.2786, abs=1e-4)
    ci = with_accuracy_ci(frame)
    assert ci["top1_ci_low"].iloc[0] < 0.9 < ci["top1_ci_high"].iloc[0] and np.isnan(ci["top1_ci_low"].iloc[2])


def test_results_frame_reads_the_evaluation_size_and_resolution_from_the_record(tmp_path) -> None:
    from hwbench.analysis.table import results_frame
    from hwbench.store import Store
    from tests.report.fill import fill

    store = Store(tmp_path / "s.sqlite")
    fill(
        store,
        "s",
        [
            {"block": "a", "index": i, "target": "t", "macs": 1e8, "params": 1e6, "ms": 1.0, "top1": 0.9}
            for i in range(2)
        ],
    )
    with store.transaction():
        store.db.execute(
            "UPDATE accuracies SET info_json = ? WHERE arch_id LIKE '%0%'", ('{"val_images": 359, "resolution": 32}',)
        )
    frame = results_frame(store, ["s"]).sort_values("eval_images")
    assert frame["eval_images"].tolist()[0] == 359 and frame["eval_resolution"].tolist()[0] == 32
    assert frame["eval_images"].isna().sum() == 1  # a record that does not say: unknown, no interval


@pytest.mark.parametrize(("k", "n"), [(3, 359), (9, 359), (10, 359), (50, 359), (180, 359), (344, 359), (9950, 10000)])
def test_draws_follow_the_jeffreys_posterior_on_both_paths(k: int, n: int) -> None:
    """Skew-corrected normal where k + ½ and n − k + ½ are ≥ 10, the Beta itself below: quantiles within 0.05 sd."""
    from scipy import stats

    a, b = k + 0.5, n - k + 0.5
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    draws = accuracy_draws(np.array([k / n]), np.array([n]), np.random.default_rng(k), 100000)[:, 0]
    probs = [0.005, 0.025, 0.5, 0.975, 0.995]
    assert np.quantile(draws, probs) == pytest.approx(stats.beta.ppf(probs, a, b), abs=0.05 * sd)
