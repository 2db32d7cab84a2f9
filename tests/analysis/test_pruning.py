"""The configuration to take per target: the fastest measured pruned point within 0.5 AP of the unpruned detector,
and what it saves, on hand-made searches; anchor-set descriptions."""

from __future__ import annotations

import pandas as pd
import pytest

from hwbench.analysis.pruning import SearchTables, anchor_set_text, recommendation
from hwbench.pruning.anchor_index import AnchorRef

ANCHORS = [AnchorRef(i, i // 2, i % 2, 1.0, [1.0, 2.0][i % 2]) for i in range(4)]


def tables(points: list[tuple[str, float, float, int, int]]) -> SearchTables:
    """points: (removed, mAP, e2e ms on 't', boxes, head MACs); the first is the unpruned detector."""
    nodes = pd.DataFrame(
        [
            {"removed": r, "map": m, "boxes": b, "head_macs": h, "anchors": 4 - r.count(",") - (r != "[]")}
            for r, m, _, b, h in points
        ]
    )
    measured = pd.DataFrame(
        [
            {"removed": r, "variant": "pruned", "target": "t", "status": "ok", "map": m, "e2e_ms": e}
            for r, m, e, _, _ in points
        ]
    )
    return SearchTables({"search_key": "k"}, nodes, measured, ANCHORS)


def test_fastest_point_at_equal_map_and_its_savings() -> None:
    t = tables(
        [
            ("[]", 0.300, 2.0, 1000, 100),
            ("[1]", 0.298, 1.6, 700, 80),  # within 0.5 AP: a candidate
            ("[1, 3]", 0.296, 1.2, 400, 60),  # within: the fastest
            ("[0, 1, 3]", 0.290, 0.8, 100, 30),  # 1 AP lower: not equal mAP
        ]
    )
    rec = recommendation(t, "t")
    assert rec is not None and rec["removed"] == [1, 3]
    assert rec["e2e_saved"] == pytest.approx(0.4) and rec["boxes_saved"] == pytest.approx(0.6)
    assert rec["head_macs_saved"] == pytest.approx(0.4)


def test_none_at_equal_map_and_nothing_measured() -> None:
    t = tables([("[]", 0.300, 2.0, 1000, 100), ("[0]", 0.280, 1.0, 500, 50)])
    assert recommendation(t, "t") == {"removed": None, "floor": pytest.approx(0.295)}
    assert recommendation(t, "other") is None


def test_anchor_set_text_names_the_shorter_list() -> None:
    assert anchor_set_text(ANCHORS, []) == "all (the unpruned detector)"
    assert anchor_set_text(ANCHORS, [1]) == "− L0: s1 r2"
    assert anchor_set_text(ANCHORS, [0, 1, 3]) == "only L1: s1 r1"
