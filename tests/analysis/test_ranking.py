"""Block rankings per target over shared accuracy levels, and their stability across targets (Kendall tau)."""

import numpy as np
import pytest

from hwbench.analysis.data import ACCURACY
from hwbench.analysis.ranking import block_scores, rank_tables
from hwbench.analysis.stepfront import target_fronts
from tests.analysis.frames import make_frame


def curve(factor: float, lo: float = 0.6, hi: float = 0.79, n: int = 20) -> list[tuple[float, float]]:
    q = np.round(np.linspace(lo, hi, n), 4)
    return list(zip(q, factor * np.exp(8 * (q - 0.6))))


def fronts(points: dict):
    return target_fronts(make_frame(points).assign(group=lambda f: f["block"]), ACCURACY)


def test_kendall_tau_same_and_reversed_rankings() -> None:
    points = {}
    for block, factor in (("a", 1.0), ("b", 2.0), ("c", 3.0)):
        points[("same1", block)] = curve(factor)
        points[("same2", block)] = curve(factor * 1.5)
        points[("reversed", block)] = curve(4.0 - factor)
    ranks, tau = rank_tables(fronts(points))
    r = ranks.set_index(["target", "group"])
    assert r.loc[("same1", "a"), "rank"] == 1 and r.loc[("same1", "c"), "rank"] == 3
    assert r.loc[("same1", "b"), "score"] == pytest.approx(2.0)  # 2× the best block at every level
    t = tau.set_index(["target_a", "target_b"])
    assert t.loc[("same1", "same2"), "kendall_tau"] == pytest.approx(1.0)
    assert t.loc[("reversed", "same1"), "kendall_tau"] == pytest.approx(-1.0)
    assert not t.loc[("reversed", "same1"), "same_best"] and t.loc[("same1", "same2"), "same_best"]


def test_a_block_below_the_others_accuracy_is_not_ranked_above_them() -> None:
    """The issue-11 demo shape: the fast block reaches only 87.5–95%, the others 97.5–99.2%."""
    points = {("t", "resnet"): curve(0.2, 0.875, 0.95)}
    points.update({("t", b): curve(f, 0.975, 0.992) for b, f in (("mbconv", 1.0), ("convnext", 1.3))})
    scores = block_scores(fronts(points)["t"]).set_index("group")
    assert scores.loc["mbconv", "rank"] == 1 and scores.loc["convnext", "rank"] == 2
    assert (
        np.isnan(scores.loc["resnet", "rank"])
        and "below the levels the ranked blocks share" in (scores.loc["resnet", "note"])
    )


def test_too_small_blocks_are_not_ranked_and_one_target_has_no_pairs() -> None:
    ranks, tau = rank_tables(fronts({("t", "a"): curve(1.0), ("t", "b"): curve(2.0), ("t", "c"): curve(1.0)[:5]}))
    r = ranks.set_index("group")
    assert r["rank"].tolist()[:2] == [1, 2] and "too few networks (5)" in r.loc["c", "note"] and tau.empty
