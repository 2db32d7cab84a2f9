"""A detection sweep end to end: detectors sampled from a CNN space, trained on digits-det, mAP stored, and trained
detectors timed in parts (graph / NMS / end to end) on test images; bad input stops before the store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from hwbench.errors import ConfigError
from hwbench.pipeline.det_plan import DetTrainingPlan, stored_task
from hwbench.pipeline.plan import plan_sweep
from hwbench.pipeline.request import SweepRequest
from hwbench.pipeline.run import run_sweep
from tests.conftest import ROOT, write_target

# One short epoch on a subset: enough for a non-trivial mAP on digits-det, fast on 2 cores.
SCHEDULE = """\
epochs: 1
batch_size: 16
resolution: 128
train_images: 64
val_images: 32
optimizer: {name: adamw, lr: 3.0e-3, weight_decay: 5.0e-5}
lr_schedule: {name: cosine, warmup_epochs: 0.2, warmup_start: 0.1, final: 0.0}
label_smoothing: 0.0
augment: {crop_padding: 0, hflip: false}
eval_batch_size: 32
"""
DET_SPACE = ROOT / "design_spaces" / "det_mbconv.yaml"


def request(root: Path, targets: list[Path], **kw: object) -> SweepRequest:
    schedule = root / "det_sched.yaml"
    schedule.write_text(SCHEDULE)
    kw.setdefault("dataset", "digits-det")
    kw.setdefault("spaces", [DET_SPACE])
    kw.setdefault("n", 2)
    return SweepRequest(
        name="det", seed=0, store=root / "s.sqlite", targets=targets, schedule=schedule, report=False, **kw
    )  # type: ignore[arg-type]


def rows(db: Path, sql: str) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        return con.execute(sql).fetchall()


@pytest.mark.slow
def test_detection_sweep_trains_scores_and_times_in_parts(tmp_path: Path) -> None:
    host = write_target(tmp_path / "targets", "ort-host", "onnxruntime", "{format: onnx}")
    graph = write_target(
        tmp_path / "targets", "ort-graph", "onnxruntime", "{format: onnx}", extra="nms: {placement: graph}\n"
    )
    req = request(tmp_path, [host, graph], n=1)
    counts = run_sweep(req)
    assert counts["archs"] == 1 and counts["trained"] == 1 and counts["detection_timings"] == 2
    archs = rows(req.store, "SELECT arch_id, boxes, head_macs, macs FROM archs")
    assert all(a["boxes"] > 0 and 0 < a["head_macs"] < a["macs"] for a in archs)
    acc = rows(req.store, "SELECT status, top1, map, map50, info_json FROM accuracies")
    assert [a["status"] for a in acc] == ["ok"] and all(a["top1"] is None for a in acc)
    assert all(0 <= a["map"] <= a["map50"] <= 1 for a in acc)
    timings = rows(req.store, "SELECT d.*, a.boxes FROM detection_timings d JOIN archs a USING (arch_id)")
    assert len(timings) == 2 and {t["status"] for t in timings} == {"ok"}
    for t in timings:
        # Candidates are (box, class) pairs: every anchor's box scored for each of the 10 digits.
        assert t["images"] == 24 and t["boxes_before"] == 10 * t["boxes"] and t["graph_ms"] > 0
        if t["placement"] == "host":  # NMS timed on its own, on the boxes over the score threshold
            assert t["nms_ms"] > 0 and t["e2e_ms"] >= t["graph_ms"] and t["boxes_above"] <= t["boxes_before"]
            assert t["boxes_kept"] <= min(100, t["boxes_above"])
        else:  # inside the graph: no separate NMS time, end to end is the graph
            assert t["nms_ms"] is None and t["e2e_ms"] == t["graph_ms"]
        # The timed window was watched like a measurement's: the target's canary and foreign CPU, judged.
        info = json.loads(t["info_json"])
        assert info["canary"]["kind"].startswith("onnxruntime:") and "foreign_share" in info["interference"]
        assert t["disturbed"] in (0, 1) and (t["disturbed_reason"] is None) == (t["disturbed"] == 0)
    # Every measurement keeps the canary of the block that measured it.
    measured = rows(req.store, "SELECT target, canary_kind, canary_ms, canary_n FROM measurements WHERE status='ok'")
    assert measured and all(m["canary_ms"] > 0 and m["canary_n"] >= 2 for m in measured)
    # A re-run resumes: nothing trained or timed again, nothing duplicated.
    again = run_sweep(req)
    assert again["trained"] == 0 and again["detection_timings"] == 0
    assert len(rows(req.store, "SELECT * FROM detection_timings")) == 2
    assert len(rows(req.store, "SELECT * FROM sweep_detection_timings WHERE sweep = 'det'")) == 2


def test_without_training_nms_is_not_timed(tmp_path: Path) -> None:
    target = write_target(tmp_path / "targets", "ort", "onnxruntime", "{format: onnx}")
    req = request(tmp_path, [target], dataset=None, n=1)
    counts = run_sweep(req)
    assert counts.get("detection_timings") is None and counts["measurements"] == 1
    assert rows(req.store, "SELECT COUNT(*) AS n FROM detection_timings")[0]["n"] == 0
    [m] = rows(req.store, "SELECT status FROM measurements")  # the graph alone, under the measurement protocol
    assert m["status"] == "ok"
    # `--stage train` alone, no --space, dataset and schedule `auto`: the store says these networks are detectors.
    later = SweepRequest(
        name="det", store=req.store, stage="train", dataset="auto", schedule="auto", spaces=[], targets=[]
    )
    plan = plan_sweep(later)
    assert isinstance(plan.training, DetTrainingPlan) and plan.training.ref.name == "digits-det"
    assert stored_task(req.store, "det") == "detection" and stored_task(req.store, "other") is None
    assert stored_task(tmp_path / "absent.sqlite", "det") is None


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            {"dataset": "digits"},
            r"det_mbconv\.yaml: det_mbconv is a detector space; dataset digits is a classification",
        ),
        ({"spaces": [ROOT / "design_spaces" / "mbconv.yaml"]}, r"mbconv is a classification space; dataset digits-det"),
        ({"schedule": "demo"}, r"demo\.yaml: resolution: 32 px, but the detectors of det_mbconv take 128 px"),
    ],
)
def test_mismatched_task_or_resolution_stops_before_the_store(tmp_path: Path, change: dict, match: str) -> None:
    target = write_target(tmp_path / "targets", "ort", "onnxruntime", "{format: onnx}")
    req = request(tmp_path, [target])
    req = SweepRequest(**{**req.__dict__, **change})
    with pytest.raises(ConfigError, match=match):
        plan_sweep(req)
    assert not req.store.exists()


@pytest.mark.parametrize(
    ("export", "nms", "match"),
    [
        ("{format: tflite}", "{placement: graph}", r"nms\.placement: graph placement needs an ONNX artifact"),
        ("{format: onnx}", "{iou_threshold: 1.5}", r"nms\.iou_threshold"),
        ("{format: onnx}", "{top_k: 5}", r"nms\.top_k"),
    ],
)
def test_bad_nms_settings_name_the_target_file_and_key(tmp_path: Path, export: str, nms: str, match: str) -> None:
    runner = "tflite" if "tflite" in export else "onnxruntime"
    target = write_target(tmp_path / "targets", "t", runner, export, extra=f"nms: {nms}\n")
    with pytest.raises(ConfigError, match=r"t\.yaml: " + match):
        plan_sweep(request(tmp_path, [target]))
