"""Detection latency in parts, after training: each trained detector is exported again from its trained weights
under every local target's profile and timed at batch 1 on the test images its mAP was scored on — the graph
(backbone + head + box decoding), NMS and end to end, with the boxes each image sends into NMS.

NMS is never timed on random inputs or untrained weights (the box counts would mean nothing): a detector without
trained weights gets no record here, only its graph latency from the measurement stage, and the sweep says so.
Timing runs one job at a time after training, so nothing else loads the machine meanwhile.
"""

from __future__ import annotations

import os
from typing import Any

from hwbench.config.target import Target
from hwbench.pipeline.det_plan import DetTrainingPlan, train_key
from hwbench.pipeline.executor import Batch
from hwbench.pipeline.jobs import ExportJob
from hwbench.pipeline.stage import StageContext, run_stage
from hwbench.postprocess.nms import NmsSettings
from hwbench.store.columns import DETECTION_TIMING_COLUMNS

# Test images each detector is timed on (the first ones of the test split, the same for every network).
TIMING_IMAGES = 24


def nms_settings(target: Target) -> NmsSettings:
    """The target's post-processing settings (the `nms:` mapping of its file; defaults when absent)."""
    return NmsSettings.from_dict(target.nms, target.source)


def det_timing_stage(ctx: StageContext) -> None:
    """Export trained detectors per local target and time them in parts; keyed, resumable, failures recorded."""
    from hwbench.export.artifacts import ArtifactStore
    from hwbench.pipeline.keys import calibration_for
    from hwbench.pipeline.measurements import target_fingerprint
    from hwbench.pipeline.training_plan import weights_path
    from hwbench.store.detection import get_detection_timing, link_detection_timing
    from hwbench.store.keys import digest

    plan, store = ctx.plan, ctx.store
    tp = plan.training
    assert isinstance(tp, DetTrainingPlan)
    req = plan.request
    pending: dict[str, dict[str, Any]] = {}
    untrained = 0
    for target in plan.targets:
        if target.transport != "local":
            ctx.ui.note(f"{target.name}: detection latency in parts is timed on local targets only, for now")
            continue
        settings = nms_settings(target)
        fp, _ = target_fingerprint(target)
        for arch in ctx.archs:
            acc_key = train_key(arch, tp)
            trained = store.get_accuracy(acc_key)
            weights = weights_path(req, acc_key)
            if trained is None or trained["status"] != "ok" or not weights.is_file():
                untrained += 1
                continue
            key = digest(
                {
                    "trained": acc_key,
                    "profile": target.profile(),
                    "target_fp": fp,
                    "nms": settings.key(),
                    "images": {"dataset": tp.dataset_id, "count": TIMING_IMAGES},
                }
            )
            row = get_detection_timing(store, key)
            if row is not None and (row["status"] == "ok" or not req.retry_errors):
                link_detection_timing(store, req.name, arch.spec.arch_id, target.name, key)
                continue
            export = ExportJob(
                spec_json=arch.spec.canonical_json,
                arch_id=arch.spec.arch_id,
                format=target.export_format,
                precision=target.precision,
                options=target.export_options,
                profile=target.profile(),
                artifact_dir=str(ArtifactStore(req.artifact_dir).root),
                calibration=calibration_for(plan),
                weights=str(weights),
            )
            pending[key] = {
                "arch": arch,
                "target": target,
                "acc_key": acc_key,
                "fp": fp,
                "settings": settings,
                "export": export.wire(),
            }
    if untrained:
        ctx.ui.note(
            f"{untrained} (detector, target) pairs have no trained weights: their NMS is not timed (graph latency only)"
        )
    plan.counts["detection_timings"] = len(pending)
    if pending:
        os.makedirs(req.artifact_dir, exist_ok=True)
        _calibrate(ctx, pending)
        _export(ctx, pending)
        _time(ctx, tp, pending)


def _calibrate(ctx: StageContext, pending: dict[str, dict[str, Any]]) -> None:
    """int8 exports of trained detectors calibrate on the dataset's training images (files in the stage's folder)."""
    from hwbench.pipeline.export import SAMPLE_KEYS, attach_images

    tp = ctx.plan.training
    assert isinstance(tp, DetTrainingPlan) and tp.workdir is not None
    jobs = {k: ExportJob(**p["export"]) for k, p in pending.items()}
    calibrated = {k: j for k, j in jobs.items() if any(j.options.get(o) for o in SAMPLE_KEYS)}
    if calibrated:
        attach_images(ctx.plan, calibrated, tp.workdir)
        for key, job in calibrated.items():
            pending[key]["export"] = job.wire()


def _export(ctx: StageContext, pending: dict[str, dict[str, Any]]) -> None:
    """Export the trained weights (worker processes); a failed export becomes the timing record's error."""
    from hwbench.export.job import run_export

    req = ctx.plan.request
    workers = max(1, min(req.workers or os.cpu_count() or 1, len(pending)))

    def record(key: str, result: dict[str, Any]) -> int:
        pending[key]["exported"] = result
        return 1

    batch = Batch("export", run_export, workers, req.export_timeout, threads=1)
    jobs = [(key, p["export"]) for key, p in pending.items()]
    run_stage(ctx, batch, jobs, title="exporting trained detectors", total=len(jobs), record=record)


def _artifact(p: dict[str, Any]) -> str:
    """The trained artifact's path; with placement `graph`, a copy with NMS appended to the ONNX graph."""
    from hwbench.export.artifacts import ArtifactStore

    exported = p["exported"]
    path = ArtifactStore(p["export"]["artifact_dir"]).path(exported["artifact_hash"], exported["extension"])
    if p["settings"].placement != "graph":
        return str(path)
    from hwbench.export.onnx_nms import append_nms
    from hwbench.store.keys import digest

    out = path.with_name(f"{path.stem}-nms-{digest(p['settings'].key(), 12)}{path.suffix}")
    append_nms(path, out, p["settings"])
    return str(out)


def _time(ctx: StageContext, tp: DetTrainingPlan, pending: dict[str, dict[str, Any]]) -> None:
    """Time each exported detector, one job at a time, and store the records."""
    from hwbench.measure.provenance import git_commit, machine_info
    from hwbench.runners.detection import measure_detection_job

    jobs: list[tuple[str, dict[str, Any]]] = []
    for key, p in pending.items():
        exported = p.get("exported") or {"status": "error", "error": "the export did not finish"}
        if exported.get("status") != "ok":
            _store(
                ctx,
                key,
                p,
                {"status": "error", "error": f"export of the trained weights failed: {exported.get('error')}"},
            )
            continue
        target: Target = p["target"]
        data = tp.data(int(p["arch"].spec.arch.resolution))
        try:
            artifact = _artifact(p)
        except Exception as exc:  # an in-graph NMS the graph cannot take: a record, the sweep goes on
            _store(ctx, key, p, {"status": "error", "error": f"in-graph NMS: {type(exc).__name__}: {exc}"})
            continue
        p["artifact_hash"] = exported["artifact_hash"]
        jobs.append(
            (
                key,
                {
                    "artifact": artifact,
                    "runner": target.runner,
                    "runner_options": target.runner_options,
                    "threads": target.threads,
                    "nms": p["settings"].key(),
                    "images": data["test"],
                    "count": TIMING_IMAGES,
                    "mean": data["mean"],
                    "std": data["std"],
                    "max_seconds": target.measurement.max_seconds,
                },
            )
        )
    provenance = {"machine": machine_info(), "commit": git_commit()}

    def record(key: str, result: dict[str, Any]) -> int:
        _store(ctx, key, pending[key], result, provenance)
        return 1

    if jobs:
        batch = Batch("measure", measure_detection_job, 1, 600.0, threads=1)
        run_stage(ctx, batch, jobs, title="timing detectors (graph / NMS / end to end)", total=len(jobs), record=record)


def _store(
    ctx: StageContext, key: str, p: dict[str, Any], result: dict[str, Any], provenance: dict | None = None
) -> None:
    """Write one timing record (ok or error) and link it to the sweep."""
    import statistics

    from hwbench.store.detection import put_detection_timing

    req = ctx.plan.request
    ok = result.get("status") == "ok"
    above = [v for v in (result.get("above_threshold") or []) if v is not None]
    kept = [v for v in (result.get("kept") or []) if v is not None]
    row = {
        "timing_key": key,
        "arch_id": p["arch"].spec.arch_id,
        "target": p["target"].name,
        "target_fp": p["fp"],
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
        "info_json": {k: v for k, v in result.items() if k not in ("status", "error")},
    }
    put_detection_timing(ctx.store, row, provenance, [(req.name, p["arch"].spec.arch_id, p["target"].name)])


def _candidates(spec: Any) -> int:
    """(box, class) pairs the graph sends to post-processing per image, before the score threshold: one box
    per anchor, scored for every class (what `above_threshold` counts after it)."""
    from hwbench.space.detection import num_boxes

    return int(num_boxes(spec.arch)) * int(spec.arch.num_classes)
