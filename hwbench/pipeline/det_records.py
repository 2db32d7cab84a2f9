"""A detector's timing in parts as a store record: the measured parts, box counts, the artifact's own mAP (scored
on the host from the detections the job returned), keyed and linked to its sweep."""

from __future__ import annotations

from typing import Any

from hwbench.measure.disturbance import CanaryBaseline, reasons
from hwbench.pipeline.stage import StageContext
from hwbench.store.columns import DETECTION_TIMING_COLUMNS


def store_timing(ctx: StageContext, key: str, p: dict[str, Any], result: dict[str, Any]) -> None:
    """Write one timing record (ok or error), with the artifact's mAP when the result carries detections."""
    import statistics

    from hwbench.pipeline.det_score import score_artifact
    from hwbench.pipeline.stage import executed_on
    from hwbench.store.detection import put_detection_timing

    req = ctx.plan.request
    ok = result.get("status") == "ok"
    if ok and "images" in p:
        result = {**result, **score_artifact(p["images"], result)}
    result.pop("detections", None)  # scored; megabytes that the record does not need
    above = [v for v in (result.get("above_threshold") or []) if v is not None]
    kept = [v for v in (result.get("kept") or []) if v is not None]
    site = p["site"]  # a det_run.Site: where it was timed, its fingerprint, provenance and canary baseline
    judged = judge(site.baseline, result) if ok else {}
    row = {
        "timing_key": key,
        "arch_id": p["arch"].spec.arch_id,
        "target": site.target.name,
        "target_fp": site.fp,
        "acc_key": p["acc_key"],
        "artifact_hash": p.get("artifact_hash"),
        "placement": p["settings"].placement,
        "nms_json": p["settings"].key(),
        "status": result.get("status", "error"),
        "error": result.get("error"),
        **({col: result.get(src) for col, src in DETECTION_TIMING_COLUMNS.items()} if ok else {}),
        "boxes_before": _candidates(p["arch"].spec),
        "boxes_above": statistics.median(above) if above else None,
        "boxes_kept": statistics.median(kept) if kept else None,
        **{k: v for k, v in judged.items() if k != "canary_drift"},
        "info_json": {
            **{k: v for k, v in result.items() if k not in ("status", "error", "executor")},
            **({"canary_drift": judged["canary_drift"]} if "canary_drift" in judged else {}),
        },
    }
    provenance = {**site.provenance, **executed_on(result)}
    put_detection_timing(ctx.store, row, provenance, [(req.name, p["arch"].spec.arch_id, site.target.name)])


def judge(baseline: CanaryBaseline, result: dict[str, Any]) -> dict[str, Any]:
    """`disturbed` and its reason for a timed record, by the measurements' rules (hwbench.measure.disturbance):
    foreign CPU, steal, clock, throttling, or the canary slower than the target's baseline. NULL (unknown) for a
    record timed without those figures (an agent older than schema 8)."""
    if result.get("canary") is None and result.get("interference") is None:
        return {"disturbed": None, "disturbed_reason": None}
    drift = baseline.observe(result.get("canary"))
    why = reasons(result, drift)
    rounded = None if drift is None else round(drift, 4)
    return {"disturbed": int(bool(why)), "disturbed_reason": "; ".join(why) or None, "canary_drift": rounded}


def _candidates(spec: Any) -> int:
    """(box, class) pairs the graph sends to post-processing per image, before the score threshold: one box
    per anchor, scored for every class (what `above_threshold` counts after it)."""
    from hwbench.space.det_vit import boxes_per_image

    return int(boxes_per_image(spec.arch)) * int(spec.arch.num_classes)
