"""Detection in the results frame: mAP (with its interval where stored), boxes, head MACs, the latency parts and an
artifact's own mAP per (network, target); the mAP quality axis, redrawn in the bootstrap from each interval (exact
without one); classification frames untouched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.data import MAP, accuracy_draws, choose_quality, detection_basis, eval_sizes, map_sd
from hwbench.analysis.table import DETECTION_COLUMNS, add_detection_columns, results_frame
from hwbench.store import Store
from hwbench.store.detection import put_detection_timing
from tests.report.fill import add_result
from tests.report.test_report import sweep_rows

NMS = {"score_threshold": 0.05, "iou_threshold": 0.5, "pre_nms_top_k": 1000, "max_detections": 100}
# Per-image NMS ms and e2e ms of network i (graph ms = e2e − nms): medians 0.5/2.0, 0.4/2.0, 0.2/2.0 → shares
# 0.25, 0.2, 0.1 for networks 0, 1, 2 of each block (hand-computed).
NMS_MS = {0: [0.4, 0.5, 0.6], 1: [0.3, 0.4, 0.5], 2: [0.1, 0.2, 0.3]}
E2E_MS = {0: [1.9, 2.0, 2.2], 1: [1.8, 2.0, 2.1], 2: [1.5, 2.0, 2.5]}
ABOVE = {0: [30, 50, 70], 1: [20, 40, 60], 2: [10, 12, 14]}
KEPT = {0: [5, 8, 9], 1: [4, 6, 7], 2: [2, 3, 3]}
# The convnext detectors' records carry the schema-5 mAP intervals (their mAP ± 3 points) and, on cpu, the exported
# artifact's own mAP; the mbconv ones are as stored before (no interval).
HALF_WIDTH = 0.03
ARTIFACT_MAP = {
    "artifact_map": 0.19,
    "artifact_map50": 0.39,
    "artifact_map_ci_low": 0.16,
    "artifact_map_ci_high": 0.22,
    "artifact_images": 200,
}


def _timing(arch: str, target: str, i: int, boxes: int, placement: str = "host", status: str = "ok") -> dict:
    """A detection timing record shaped like hwbench.pipeline.det_timing's, from the per-image lists above."""
    nms, e2e = np.array(NMS_MS[i]), np.array(E2E_MS[i])
    host = placement == "host"
    per_image = {
        "graph_ms": list(e2e - nms) if host else list(e2e),
        "nms_ms": list(nms) if host else None,
        "e2e_ms": list(e2e),
        "above_threshold": ABOVE[i] if host else None,
        "kept": KEPT[i],
    }
    ok = status == "ok"
    return {
        "timing_key": f"t-{arch}-{target}",
        "arch_id": arch,
        "target": target,
        "target_fp": "fp",
        "acc_key": f"acc-{arch}",
        "placement": placement,
        "nms_json": json.dumps({**NMS, "placement": placement}),
        "status": status,
        "error": None if ok else "Boom: NonMaxSuppression unsupported",
        "images": 3 if ok else None,
        "graph_ms": float(np.median(per_image["graph_ms"])) if ok else None,
        "nms_ms": float(np.median(nms)) if ok and host else None,
        "e2e_ms": float(np.median(e2e)) if ok else None,
        "boxes_before": boxes,
        "boxes_above": float(np.median(ABOVE[i])) if ok and host else None,
        "boxes_kept": float(np.median(KEPT[i])) if ok else None,
        "info_json": per_image if ok else {},
        **(ARTIFACT_MAP if arch.startswith("dconvnext") and host else {}),
    }


def fill_detection(store: Store, sweep: str = "det", targets: tuple[str, ...] = ("cpu", "npu")) -> None:
    """Two blocks × three detectors with mAP, boxes and head MACs, measured (protocol) on every target; timed in
    parts on cpu (host NMS) and npu (in-graph NMS), except convnext-2 on npu (a failed timing) and mbconv-2 on npu
    (no trained weights: no record)."""
    for b, block in enumerate(("mbconv", "convnext")):
        for i in range(3):
            arch = f"d{block}-{i}"
            cx = {"macs": (i + 1) * 10**8, "params": (i + 1) * 10**6, "acts": 1, "boxes": 1360 + 100 * b}
            store.put_arch(arch, "det", block, "{}", {**cx, "head_macs": (i + 1) * 10**6 + b})
            for t, target in enumerate(targets):
                row = {"arch": arch, "block": block, "index": i, "target": target, "ms": 1.0 + i + 0.5 * b + t}
                add_result(store, sweep, {**row, "space": f"det_{block}"})
                if target == "npu" and i == 2:
                    if block == "convnext":
                        put_detection_timing(
                            store,
                            _timing(arch, target, i, cx["boxes"], "graph", "error"),
                            None,
                            [(sweep, arch, target)],
                        )
                    continue
                placement = "graph" if target == "npu" else "host"
                put_detection_timing(
                    store, _timing(arch, target, i, cx["boxes"], placement), None, [(sweep, arch, target)]
                )
            _detection_accuracy(store, sweep, arch, 0.20 + 0.05 * i + 0.01 * b)


def _detection_accuracy(store: Store, sweep: str, arch: str, map_: float) -> None:
    """A trained detector's accuracy record (COCO metrics, eval images in info_json), linked to the sweep."""
    info = {"task": "detection", "eval_images": 200, "resolution": 128}
    store.put_accuracy(
        {
            "acc_key": f"acc-{arch}",
            "arch_id": arch,
            "dataset": "digits-det",
            "dataset_id": "dd",
            "schedule": "det_demo",
            "schedule_hash": "h",
            "evaluated_on": "torch",
            "source": "trained",
            "status": "ok",
            "map": map_,
            "map50": map_ + 0.2,
            "map75": map_ - 0.05,
            "map_small": map_ - 0.1,
            "map_medium": map_,
            "map_large": None,
            "map_ci_low": map_ - HALF_WIDTH if "convnext" in arch else None,
            "map_ci_high": map_ + HALF_WIDTH if "convnext" in arch else None,
            "info_json": info,
        },
        links=[(sweep, arch)],
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A store with a detection sweep 'det' and a classification sweep 'cls'."""
    store = Store(tmp_path / "s.sqlite")
    fill_detection(store)
    for row in sweep_rows(blocks=("mbconv", "fused"), targets=("cpu",), n=3, fail=False):
        add_result(store, "cls", row)
    return store


def test_detection_columns_reach_the_frame_with_hand_computed_values(store: Store) -> None:
    frame = results_frame(store, ["det"]).set_index(["arch_id", "target"])
    assert set(DETECTION_COLUMNS) <= set(frame.columns)
    r = frame.loc[("dmbconv-0", "cpu")]
    assert (r["boxes"], r["head_macs"], r["map"], r["map50"], r["map_eval_images"]) == (1360, 10**6, 0.2, 0.4, 200)
    assert np.isnan(r["map_large"]) and pd.isna(r["top1"]) and pd.isna(r["eval_images"])
    assert (r["det_graph_ms"], r["det_nms_ms"], r["det_e2e_ms"]) == pytest.approx((1.5, 0.5, 2.0))
    assert (r["boxes_above"], r["boxes_kept"], r["det_images"], r["nms_placement"]) == (50, 8, 3, "host")
    shares = frame.xs("cpu", level="target").loc[["dmbconv-0", "dmbconv-1", "dmbconv-2"], "nms_share"]
    assert shares.tolist() == pytest.approx([0.25, 0.2, 0.1])
    assert json.loads(r["det_per_image"])["above_threshold"] == ABOVE[0]
    assert json.loads(frame.loc[("dconvnext-1", "cpu"), "nms_settings"])["iou_threshold"] == 0.5
    assert frame.loc[("dconvnext-1", "cpu"), "boxes"] == 1460


def test_in_graph_nms_failed_and_untimed_detectors(store: Store) -> None:
    frame = results_frame(store, ["det"]).set_index(["arch_id", "target"])
    graph = frame.loc[("dconvnext-0", "npu")]
    assert graph["nms_placement"] == "graph" and graph["det_e2e_ms"] == pytest.approx(2.0)
    assert np.isnan(graph["det_nms_ms"]) and np.isnan(graph["nms_share"])  # NMS not separable inside the graph
    failed = frame.loc[("dconvnext-2", "npu")]
    assert failed["det_status"] == "error" and "NonMaxSuppression" in failed["det_error"]
    assert np.isnan(failed["det_e2e_ms"]) and failed["median_ms"] > 0  # the protocol's graph latency is kept
    untimed = frame.loc[("dmbconv-2", "npu")]
    assert pd.isna(untimed["det_status"]) and untimed["map"] == pytest.approx(0.3) and untimed["median_ms"] > 0


def test_classification_frames_are_untouched(store: Store) -> None:
    frame = results_frame(store, ["cls"])
    assert not set(DETECTION_COLUMNS) & set(frame.columns)
    pd.testing.assert_frame_equal(add_detection_columns(frame, store, ["cls"]), frame)
    assert choose_quality(frame).column == "top1"
    both = results_frame(store, ["cls", "det"])  # combined: detection columns NaN for the classifiers
    assert both.loc[both["sweep"] == "cls", "map"].isna().all() and both["top1"].notna().sum() == 6


def test_map_is_the_quality_axis_and_its_basis_counts_the_intervals(store: Store) -> None:
    frame = results_frame(store, ["det"])
    assert choose_quality(frame) == MAP and MAP.unit == "mAP" and MAP.fmt(0.257) == "25.7% mAP"
    tagged = frame.assign(eval_images=200)  # even where an image count sits in eval_images, mAP has no binomial
    assert np.isnan(eval_sizes(tagged)).all()
    basis = detection_basis(frame).to_dict("records")
    assert len(basis) == 1 and basis[0]["median_width_points"] == pytest.approx(6.0)
    del basis[0]["median_width_points"]
    assert basis == [
        {
            "dataset": "digits-det",
            "schedule": "det_demo",
            "networks": 6,
            "with_interval": 3,
            "eval_images": 200,
            "resolution": 128,
        }
    ]


def test_intervals_and_the_artifacts_map_reach_the_frame(store: Store) -> None:
    frame = results_frame(store, ["det"]).set_index(["arch_id", "target"])
    r = frame.loc[("dconvnext-1", "cpu")]
    assert (r["map_ci_low"], r["map"], r["map_ci_high"]) == pytest.approx((0.23, 0.26, 0.29))
    assert (r["artifact_map"], r["artifact_map_ci_low"], r["artifact_map_ci_high"]) == pytest.approx((0.19, 0.16, 0.22))
    assert r["artifact_map_images"] == 200 and np.isnan(frame.loc[("dconvnext-1", "npu"), "artifact_map"])
    assert np.isnan(frame.loc[("dmbconv-1", "cpu"), "map_ci_low"])  # stored before intervals: none
    sd = map_sd(frame.reset_index())
    assert np.nanmax(sd) == pytest.approx(0.06 / (2 * 1.959964), rel=1e-5) and np.isnan(sd).sum() == 6


def test_bootstrap_fronts_redraw_a_map_with_an_interval_and_keep_one_without_exact(store: Store) -> None:
    from hwbench.analysis.stepfront import target_fronts

    frame = results_frame(store, ["det"]).assign(group=lambda f: f["block"], eval_images=200)
    data = frame[frame["target"] == "cpu"].reset_index(drop=True)
    noise = np.repeat(data["median_ms"].to_numpy()[:, None], 4, axis=1)
    fronts = target_fronts(data, MAP, noise, n_boot=20, seed=0)["cpu"]
    assert all(f.acc_n is None for f in fronts.blocks.values())  # no binomial redraw for a mAP
    assert fronts.blocks["mbconv"].acc_sd is None  # no interval stored: exact, as before
    assert fronts.blocks["convnext"].acc_sd == pytest.approx(np.full(3, 0.06 / (2 * 1.959964)), rel=1e-5)


def test_map_draws_follow_the_interval_and_leave_top1_draws_as_they_were() -> None:
    p, n, sd = np.array([0.9, 0.3, 0.5]), np.array([359.0, np.nan, np.nan]), np.array([np.nan, 0.02, np.nan])
    draws = accuracy_draws(p, n, np.random.default_rng(0), 20000, sd)
    assert draws[:, 1].mean() == pytest.approx(0.3, abs=0.001) and draws[:, 1].std() == pytest.approx(0.02, rel=0.03)
    assert (draws[:, 2] == 0.5).all()  # neither n nor an interval: exact
    top1_only = accuracy_draws(p[:1], n[:1], np.random.default_rng(0), 20000)
    assert (draws[:, 0] == top1_only[:, 0]).all()  # the binomial draws do not move when mAP rows are added
