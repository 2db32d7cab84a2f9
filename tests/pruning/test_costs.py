"""Cost axes: boxes and head MACs of pruned anchor sets by hand; the latency model's NMS fit (line, proportional
fallback) and its refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwbench.models.complexity import complexity
from hwbench.pruning.costs import boxes, fit_latency, head_macs, network_macs
from tests.models.test_detector import tiny
from tests.pruning.test_surgery import ANCHORS


def test_boxes_and_head_macs_by_hand() -> None:
    arch = tiny(anchors=ANCHORS).arch
    # 8x8, 4x4 and 2x2 cells with 2 anchors each.
    assert boxes(arch, frozenset()) == 2 * (64 + 16 + 4)
    assert boxes(arch, frozenset({0, 2, 3})) == 64 + 0 + 8
    full, less = head_macs(arch, frozenset()), head_macs(arch, frozenset({1}))
    # Removing one anchor of level 0 drops K + 4 = 7 output rows of its two 1x1 predictors (8 channels in) on 8x8.
    assert full - less == (3 + 4) * 8 * 64


def test_network_macs_see_the_extra_level_a_pruned_set_no_longer_builds() -> None:
    spec = tiny(anchors=ANCHORS)
    arch = spec.arch
    assert network_macs(arch, frozenset()) == complexity(spec).macs
    # Emptying the extra level (anchors 4, 5) drops its predictors and the extra stride-2 convs that fed them:
    # more than the head MACs count, which leave the extra levels out.
    drop_net = network_macs(arch, frozenset()) - network_macs(arch, frozenset({4, 5}))
    drop_head = head_macs(arch, frozenset()) - head_macs(arch, frozenset({4, 5}))
    assert drop_net > drop_head
    # Anchor sets of the same structure cost the same, whichever shapes they keep.
    assert network_macs(arch, frozenset({0})) == network_macs(arch, frozenset({1}))


def timing(above: list[int], nms: list[float], **kw: object) -> dict:
    info = {"above_threshold": above, "nms_ms": nms}
    return {"status": "ok", "error": None, "placement": "host", "graph_ms": 2.0, "info_json": json.dumps(info), **kw}


def test_latency_model_line_and_prediction() -> None:
    above = [10, 20, 30, 40, 50]
    model = fit_latency("t", timing(above, [0.3 + 0.01 * a for a in above]), macs=1000, head=100)
    assert model.nms_fit == "line"
    assert model.nms_ms_per_candidate == pytest.approx(0.01) and model.nms_intercept_ms == pytest.approx(0.3)
    got = model.predict(removed_macs=100, mean_candidates=25)
    assert got["graph_ms"] == pytest.approx(2.0 - 0.2) and got["nms_ms"] == pytest.approx(0.55)
    assert got["e2e_ms"] == pytest.approx(got["graph_ms"] + got["nms_ms"])


def test_latency_model_falls_back_when_counts_barely_spread() -> None:
    # Nearly every pair over the threshold on every image (a barely trained detector): a line would extrapolate.
    rng = np.random.default_rng(0)
    above = [13600 - int(v) for v in rng.integers(0, 40, 24)]
    nms = [21.0 + float(v) for v in rng.normal(0, 0.5, 24)]
    model = fit_latency("t", timing(above, nms), macs=1000, head=100)
    assert model.nms_fit == "proportional" and model.nms_intercept_ms == 0
    half = model.predict(0, 6800)["nms_ms"]
    assert half == pytest.approx(sum(nms) / sum(above) * 6800) and 0 < half < 21


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (timing([1, 2, 3], [1, 1, 1], status="error", error="boom"), "timing record failed"),
        (timing([1, 2, 3], [1, 1, 1], placement="graph"), "NMS ran inside the graph"),
        (timing([1, 2], [1, 1]), "no per-image NMS times"),
    ],
)
def test_latency_model_refusals(row: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_latency("t", row, macs=1000, head=100)
