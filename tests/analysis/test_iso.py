"""Latency at equal accuracy and accuracy at equal latency on best-of-m curves, with exact hand-made answers."""

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.data import ACCURACY
from hwbench.analysis.gap import best_within, budget_grid, gap_tables
from hwbench.analysis.iso import pair_tables, slowdown_curves, speedup_sentence
from hwbench.analysis.stepfront import target_fronts
from tests.analysis.frames import make_frame

Q = np.round(np.linspace(0.6, 0.79, 20), 4)
BASE = np.exp(8 * (Q - 0.6))


def block(factor: float, q: np.ndarray = Q, jitter: int = 0) -> list[tuple[float, float]]:
    lat = np.exp(8 * (q - 0.6)) * factor
    if jitter:
        lat = lat * np.random.default_rng(jitter).lognormal(0, 0.2, q.size)
    return list(zip(q, lat))


def fronts(points: dict, n_boot: int = 0):
    frame = make_frame(points).assign(group=lambda f: f["block"])
    noise = np.repeat(frame["median_ms"].to_numpy()[:, None], 2, axis=1)
    return target_fronts(frame, ACCURACY, noise if n_boot else None, n_boot)["t"]


def test_a_uniformly_slower_block_by_hand() -> None:
    """y is 2× x at every accuracy with the same qualities: θ_y = 2·θ_x at every level, whatever m."""
    curves, summary = pair_tables(fronts({("t", "x"): block(1.0), ("t", "y"): block(2.0)}, n_boot=200))
    row = summary.iloc[0]
    assert np.allclose(curves["speedup"], 2.0) and row["geomean_speedup"] == pytest.approx(2.0)
    assert (row["overlap_lo"], row["overlap_hi"]) == pytest.approx((0.6, 0.71))  # top: reached by 9 networks
    assert row["n_levels"] == 23 and row["coverage"] == 1.0
    # resampling networks of both blocks with one stream each: the ratio moves, but 2 stays inside
    assert row["geo_ci_low"] < 2.0 < row["geo_ci_high"] and row["p_value"] < 0.02
    assert row["max_speedup"] == pytest.approx(2.0) and "max_ci_low" not in row  # maxima: no interval


def test_adding_a_block_never_changes_a_pair() -> None:
    two = {("t", "x"): block(1.0, jitter=1), ("t", "y"): block(1.1, jitter=2)}
    slow_z = {("t", "z"): block(3.0, q=np.linspace(0.5, 0.85, 30), jitter=3)}
    _, before = pair_tables(fronts(two, n_boot=100))
    _, after = pair_tables(fronts({**two, **slow_z}, n_boot=100))
    xy = after[(after["block_x"] == "x") & (after["block_y"] == "y")].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, xy)
    _, gaps_before = gap_tables(fronts(two, n_boot=100))
    _, gaps_after = gap_tables(fronts({**two, **slow_z}, n_boot=100))
    pd.testing.assert_frame_equal(gaps_before, gaps_after.iloc[:1])


def test_no_shared_levels_and_too_few_networks() -> None:
    low, high = block(1.0, q=np.linspace(0.5, 0.6, 12)), block(1.0, q=np.linspace(0.7, 0.8, 12))
    _, summary = pair_tables(fronts({("t", "x"): low, ("t", "y"): high}))
    row = summary.iloc[0]
    assert row["n_levels"] == 0 and np.isnan(row["geomean_speedup"])
    assert speedup_sentence(row, ACCURACY, "t").startswith(
        "x (50.0–52.7% top-1) and y (70.0–72.7% top-1) share no top-1 accuracy level on t: not compared"
    )
    _, summary = pair_tables(fronts({("t", "x"): block(1.0)[:5], ("t", "y"): block(1.0)}))
    assert summary.iloc[0]["n_levels"] == 0  # 5 networks cannot estimate a best of 3 with margin
    assert "not compared, x has 5 network(s) (a best-of-3 curve needs 9)" in speedup_sentence(
        summary.iloc[0], ACCURACY, "t"
    )


def test_sentence_says_faster_only_when_significant_and_the_interval_excludes_1() -> None:
    _, summary = pair_tables(fronts({("t", "x"): block(1.0), ("t", "y"): block(2.0)}, n_boot=200))
    row = summary.iloc[0]
    strong = row.copy()
    strong["p_holm"] = 0.001
    text = speedup_sentence(strong, ACCURACY, "t")
    assert text.startswith("x is 2.00× (") and "faster than y on average over 60.0–71.0% top-1 on t" in text
    weak = row.copy()
    weak["p_holm"] = 0.2  # the same pair after Holm over many pairs
    assert "no latency difference shown" in speedup_sentence(weak, ACCURACY, "t")
    straddle = row.copy()
    straddle["geo_ci_low"], straddle["p_holm"] = 0.89, 0.01
    assert "faster" not in speedup_sentence(straddle, ACCURACY, "t").split(";")[0]


def test_not_estimable_when_replicates_do_not_cover() -> None:
    _, summary = pair_tables(fronts({("t", "x"): block(1.0), ("t", "y"): block(2.0)}, n_boot=200))
    row = summary.iloc[0].copy()
    row["geo_ci_low"] = row["geo_ci_high"] = np.nan
    row["coverage"] = 0.72
    assert "not estimable (72% of bootstrap replicates" in speedup_sentence(row, ACCURACY, "t")


def test_slowdown_against_the_best_block() -> None:
    curves = slowdown_curves(fronts({("t", "x"): block(1.0), ("t", "y"): block(1.5)}, n_boot=50))
    assert np.allclose(curves[curves["block"] == "x"]["slowdown"], 1.0)
    assert np.allclose(curves[curves["block"] == "y"]["slowdown"], 1.5)


def test_gap_by_hand() -> None:
    """y is x with every accuracy 5 points higher: θ_y(a + 0.05) = θ_x(a), so A_y(t) = A_x(t) + 5 points."""
    levels = np.array([0.6, 0.7, 0.8])
    assert best_within(levels, np.array([1.0, 3.0, 2.0]), np.array([0.5, 1.0, 2.5]))[0].tolist() == [0.6, 0.6, 0.8]
    assert np.isnan(best_within(levels, np.array([[1.0, np.nan, 2.0]]), np.array([5.0]))).all()
    assert np.allclose(np.log(budget_grid(1.0, 1.2)) / 0.05, [0, 1, 2, 3])
    shifted = [(round(q + 0.05, 4), ms) for q, ms in block(1.0)]
    curves, summary = gap_tables(fronts({("t", "x"): block(1.0), ("t", "y"): shifted}, n_boot=100))
    row = summary.iloc[0]
    inner = curves[curves["latency_ms"] > curves["latency_ms"].min()]  # at the floor x's A is clamped
    assert np.allclose(inner["gap"], -0.05) and row["max_gap_y"] == pytest.approx(0.05)
    assert row["mean_ci_low"] <= row["mean_gap"] <= row["mean_ci_high"] and row["coverage"] > 0.9
