"""Calibration of the front comparisons against populations whose truth is known (issue 19 findings 1–5, 8, 9).

Every trial draws fresh blocks from tests/analysis/populations.py, runs hwbench's own functions and checks the
interval or verdict against the truth. Seeded, so each assertion is a fixed measurement; trial and replicate
counts are kept small for speed, and the thresholds leave room for their Monte Carlo error (with 200 trials a
true 95% coverage reads 92–98%). docs/statistics.md lists the figures these tests measure.
"""

from functools import cache

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.iso import pair_tables
from hwbench.analysis.ranking import block_scores
from hwbench.analysis.recommend import recommend
from tests.analysis.populations import draw, fronts, true_curve

B = 200  # bootstrap replicates per trial


@cache
def trials(n_x: int, n_y: int, factor: float, count: int) -> pd.DataFrame:
    """Per trial: the pair row of x against y (y's latency × factor at every accuracy)."""
    rows = []
    for i in range(count):
        rng = np.random.default_rng(1000 * n_x + n_y + i)
        tf = fronts({"x": draw(rng, n_x), "y": draw(rng, n_y, factor)}, B, seed=i)
        rows.append(pair_tables(tf)[1].iloc[0])
    return pd.DataFrame(rows)


def coverage(rows: pd.DataFrame, truth: float) -> float:
    return float(np.mean((rows["geo_ci_low"] <= truth) & (truth <= rows["geo_ci_high"])))


def test_identical_blocks_equal_n_intervals_cover_1() -> None:
    rows = trials(30, 30, 1.0, 200)
    assert coverage(rows, 1.0) >= 0.92  # measured 0.955; the sample-front bootstrap gave 0.877
    assert abs(np.log(rows["geomean_speedup"]).mean()) < 0.02  # no block looks faster on average
    assert np.mean((rows["ci_low"] <= 1) & (rows["ci_high"] >= 1)) >= 0.9  # mid-range, pointwise
    assert np.mean(rows["p_value"] < 0.05) <= 0.08  # false "faster" before any multiplicity correction


def test_identical_blocks_unequal_n_are_not_biased_towards_the_larger() -> None:
    rows = trials(60, 20, 1.0, 200)
    # the sample front made the 60-network block look 1.15× faster and covered 1 in 53% of trials
    assert coverage(rows, 1.0) >= 0.88
    assert abs(np.log(rows["geomean_speedup"]).mean()) < 0.03
    assert rows["n_note"].str.contains("network counts differ").all()


def test_a_block_5_percent_slower_is_measured_and_covered() -> None:
    rows = trials(30, 30, 1.05, 200)
    assert coverage(rows, 1.05) >= 0.92
    assert abs(np.log(rows["geomean_speedup"]).mean() - np.log(1.05)) < 0.02


def test_a_block_5_percent_slower_is_dropped_and_never_the_faster_one() -> None:
    """Keep/drop on the integrated cost: true cost of dropping y is 1/1.05 = 0.952 (the sup-regret read 1.17)."""
    verdicts = []
    for i in range(40):
        rng = np.random.default_rng(7000 + i)
        tf = fronts({"x": draw(rng, 100), "y": draw(rng, 100, 1.05)}, B, seed=i)
        verdicts.append(recommend(tf, pd.DataFrame(), ["x", "y"]).set_index("group")["verdict"])
    v = pd.DataFrame(verdicts)
    assert (v["y"] == "drop").mean() >= 0.2  # measured 0.25; the old regret dropped it in 0 of 150 trials
    assert (v["x"] == "drop").sum() == 0


def test_single_block_curve_interval_covers_the_population_value() -> None:
    """One block's θ at 68% top-1 against the population's (the sample-front interval covered in 3.5%)."""
    level = 0.68
    truth = true_curve((level,))[0]
    hits = []
    for i in range(200):
        tf = fronts({"x": draw(np.random.default_rng(9000 + i), 30)}, B, seed=i)
        at = int(np.argmin(np.abs(tf.levels - level)))
        f = tf.blocks["x"]
        assert f.estimable[at]  # 68% is below the top (the 9th best of 30) in every one of these trials
        low, high = np.nanquantile(f.boot[:, at], [0.025, 0.975])
        hits.append(low <= truth <= high)
    # measured 0.89 here (0.91 over 300 trials): the percentile interval of one skewed curve runs a little short
    # at 30 networks; unbiased (mean estimate within 0.3% of the truth). The pair ratios above do better.
    assert np.mean(hits) >= 0.87


def test_adding_an_unrelated_block_never_changes_a_pair() -> None:
    for i in range(5):
        rng = np.random.default_rng(500 + i)
        x, y, z = draw(rng, 25), draw(rng, 25, 1.1), draw(rng, 25, 3.0, low=0.5, high=0.9)
        alone = pair_tables(fronts({"x": x, "y": y}, 50, seed=i))[1]
        both = pair_tables(fronts({"x": x, "y": y, "z": z}, 50, seed=i))[1]
        pd.testing.assert_frame_equal(alone, both.iloc[:1])


def test_disjoint_accuracy_ranges_are_not_compared_or_ranked() -> None:
    rng = np.random.default_rng(3)
    low = draw(rng, 30, 0.3, low=0.45, high=0.55)
    tf = fronts({"a": draw(rng, 30), "b": draw(rng, 30, 2.0), "low": low}, 100, seed=0)
    pairs = pair_tables(tf)[1].set_index(["block_x", "block_y"])
    assert pairs.loc[("a", "low"), "n_levels"] == 0 and pairs.loc[("b", "low"), "n_levels"] == 0
    scores = block_scores(tf).set_index("group")
    assert np.isnan(scores.loc["low", "rank"]) and scores.loc["a", "rank"] == 1
    rec = recommend(tf, pd.DataFrame(), ["a", "b", "low"]).set_index("group")
    assert rec.loc["low", "verdict"] == "keep" and "cheapest option below" in rec.loc["low", "evidence"]


@pytest.mark.parametrize("seed", range(3))
def test_verdicts_do_not_flip_across_bootstrap_seeds_with_enough_networks(seed: int) -> None:
    """With 10+ networks per block and replicates added near the threshold, a clear case is stable."""
    rng = np.random.default_rng(42)
    blocks = {"x": draw(rng, 40), "y": draw(rng, 40, 1.3), "z": draw(rng, 12, 1.0)}
    v = recommend(fronts(blocks, 300, seed=seed), pd.DataFrame(), ["x", "y", "z"]).set_index("group")
    assert v.loc["y", "verdict"] == "drop" and v.loc["x", "verdict"] == "keep"
