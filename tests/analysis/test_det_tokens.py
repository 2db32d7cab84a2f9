"""Per-image speed-ups of a pruning ViT detector over its dense counterpart, image by image, and the slower flag."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hwbench.analysis.det_tokens import add_det_token_columns
from hwbench.space.det_vit import dense_detector
from tests.models.test_det_vit import PRUNE, det_spec


class Specs:
    """A store stand-in answering the archs query with the given specs."""

    def __init__(self, specs: list) -> None:
        self.rows = [{"arch_id": s.arch_id, "spec_json": s.canonical_json} for s in specs]

    def query(self, sql: str, params: tuple) -> list[dict]:
        if "detection_timings" in sql:  # backbone-only lists: the dense one 3 ms, the pruned one 1.5 ms per image
            ms = {self.rows[0]["arch_id"]: "[3, 3, 3]", self.rows[1]["arch_id"]: "[1.5, 1.5, 6]"}
            return [{"sweep": "s", "arch_id": a, "target": "t", "ms": v} for a, v in ms.items()]
        return [r for r in self.rows if r["arch_id"] in params]


def row(spec, graph: list[float], e2e: list[float], target: str = "t") -> dict:
    lists = {"graph_ms": graph, "e2e_ms": e2e}
    return {
        "sweep": "s",
        "arch_id": spec.arch_id,
        "target": target,
        "family": "det_vit",
        "block": spec.block,
        "det_per_image": json.dumps(lists),
    }


def test_speedups_pair_images_and_flag_slower() -> None:
    pruned = det_spec("vit_mlp_prune", **PRUNE)
    dense = dense_detector(pruned)
    frame = pd.DataFrame(
        [
            row(dense, [2.0, 2.0, 4.0], [4.0, 4.0, 8.0]),
            row(pruned, [1.0, 4.0, 2.0], [2.0, 8.0, 4.0]),
            row(pruned, [1.0], [2.0], target="other"),  # no dense timing on this target: no speed-up
        ]
    )
    out = add_det_token_columns(frame, Specs([dense, pruned]))  # type: ignore[arg-type]
    got = out.iloc[1]
    assert got["dense_arch_id"] == dense.arch_id
    assert got["det_e2e_speedup_median"] == pytest.approx(2.0)  # per image: 2, 0.5, 2
    assert got["det_images_slower"] == 1 and got["slower_than_dense"] is False
    assert got["det_graph_speedup_p10"] == pytest.approx(0.8)  # percentile of [2, 0.5, 2]
    assert got["det_backbone_speedup_median"] == pytest.approx(2.0)  # 2, 2, 0.5
    assert pd.isna(out.iloc[2]["det_e2e_speedup_median"]) and pd.isna(out.iloc[0]["det_e2e_speedup_median"])
