"""Which blocks to drop per target: integrated costs on best-of-m curves, bootstrap support, small blocks."""

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.data import ACCURACY
from hwbench.analysis.recommend import MIN_NETWORKS, Cover, dominance_table, recommend
from hwbench.analysis.stepfront import target_fronts
from tests.analysis.frames import make_frame


def block(factor: float, lo: float = 0.6, hi: float = 0.79, n: int = 20, jitter: int = 0):
    q = np.round(np.linspace(lo, hi, n), 4)
    lat = np.exp(8 * (q - 0.6)) * factor
    if jitter:
        lat = lat * np.random.default_rng(jitter).lognormal(0, 0.1, n)
    return list(zip(q, lat))


def fronts(points: dict, n_boot: int = 0):
    frame = make_frame(points).assign(group=lambda f: f["block"])
    noise = np.repeat(frame["median_ms"].to_numpy()[:, None], 2, axis=1)  # no measurement noise
    return target_fronts(frame, ACCURACY, noise if n_boot else None, n_boot)["t"]


def verdicts(tf, **kw) -> pd.DataFrame:
    return recommend(tf, pd.DataFrame(), sorted(tf.blocks), **kw).set_index("group")


def test_cost_is_the_geometric_mean_ratio_over_the_dropped_blocks_range() -> None:
    tf = fronts({("t", "x"): block(1.0), ("t", "y"): block(2.0)})
    cover = Cover(tf, 0.02, None)
    assert cover.cost("y", ["x"]) == pytest.approx(0.5) and cover.cost("x", ["y"]) == pytest.approx(2.0)
    table = dominance_table(tf)
    assert table[["dominated", "by"]].values.tolist() == [["y", "x"]]


def test_a_clearly_slower_block_is_dropped_with_support() -> None:
    v = verdicts(fronts({("t", "x"): block(1.0, n=40, jitter=1), ("t", "y"): block(1.5, n=40, jitter=2)}, 300))
    assert v["verdict"].to_dict() == {"x": "keep", "y": "drop"}
    assert v.loc["y", "support"] >= 0.95 and v.loc["y", "support_se"] < 0.02 and v.loc["y", "replicates"] >= 300
    assert "bootstrap support" in v.loc["y", "evidence"] and "not a probability" in v.loc["y", "evidence"]
    assert v.loc["x", "evidence"].endswith("it stands in for y")


def test_identical_blocks_are_never_both_dropped() -> None:
    points = {("t", "a"): block(1.0), ("t", "b"): block(1.0)}
    assert sorted(verdicts(fronts(points))["verdict"]) == ["drop", "keep"]  # no bootstrap: the point decides
    # with it, either could go only if it were confidently within 2%: equal blocks of 20 networks are not
    assert sorted(verdicts(fronts(points, 100))["verdict"]) == ["keep (uncertain)", "keep (uncertain)"]


def test_a_block_reaching_higher_accuracy_is_kept() -> None:
    """y is slower where both are, but only y's networks reach 85%."""
    v = verdicts(fronts({("t", "x"): block(1.0), ("t", "y"): block(1.2, hi=0.89, n=30)}, 100))
    assert v.loc["y", "verdict"] == "keep" and np.isinf(v.loc["y", "cost"])
    assert "no other kept block reaches every level of its range" in v.loc["y", "evidence"]


def test_a_block_below_the_others_is_the_cheapest_option_below_them() -> None:
    """The issue-11 demo shape: one block at 87.5–95%, the others at 97.5–99%."""
    low = block(0.5, lo=0.875, hi=0.95, n=20)
    high = {("t", b): block(f, lo=0.975, hi=0.992, n=20) for b, f in (("a", 1.0), ("b", 1.1))}
    v = verdicts(fronts({("t", "low"): low, **high}, 100))
    assert v.loc["low", "verdict"] == "keep" and "the cheapest option below 97.5% top-1" in v.loc["low", "evidence"]


def test_small_blocks_get_no_verdict() -> None:
    v = verdicts(fronts({("t", "x"): block(1.0), ("t", "y"): block(3.0, n=MIN_NETWORKS - 1)}, 100))
    assert v.loc["y", "verdict"] == "no verdict" and f"fewer than {MIN_NETWORKS}" in v.loc["y", "evidence"]
    assert v.loc["x", "verdict"] == "keep"


def test_uncertain_when_support_is_short() -> None:
    """y is 1% slower than x on average: within tolerance on the data, but far from certain with 12 networks."""
    v = verdicts(fronts({("t", "x"): block(1.0, n=12, jitter=5), ("t", "y"): block(1.0, n=12, jitter=6)}, 200))
    assert "keep (uncertain)" in set(v["verdict"]) or set(v["verdict"]) == {"keep"}
    uncertain = v[v["verdict"] == "keep (uncertain)"]
    assert (uncertain["support"] < 0.95).all() and (uncertain["replicates"] >= 200).all()


def test_single_block_and_failed_block() -> None:
    rec = recommend(fronts({("t", "x"): block(1.0)}), pd.DataFrame(), ["x", "broken"]).set_index("group")
    assert rec.loc["x", "verdict"] == "keep" and "only block" in rec.loc["x", "evidence"]
    assert rec.loc["broken", "verdict"] == "no data" and rec.loc["broken", "networks"] == 0
