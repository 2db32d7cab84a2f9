"""Detection latency in parts, after training: each trained detector is exported again from its trained weights
under every target's profile and timed at batch 1 on the test images its mAP was scored on — the graph
(backbone + head + box decoding), NMS and end to end, with the boxes each image sends into NMS — on this machine
(a local target), on its Ray node (a `ray-node` target) or on its board (an agent target). Every image then goes
once through the artifact and its post-processing, and the host scores those detections: the artifact's own mAP.

NMS is never timed on random inputs or untrained weights (the box counts would mean nothing): a detector without
trained weights gets no record here, only its graph latency from the measurement stage, and the sweep says so.
Timing runs one job at a time after training, so nothing else loads the machine meanwhile; each dense ViT detector
right before its pruned counterparts, whose speed-ups pair their windows.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hwbench.config.target import Target
from hwbench.pipeline.det_plan import DetTrainingPlan, train_key
from hwbench.pipeline.det_records import store_timing
from hwbench.pipeline.det_run import Site, site_for
from hwbench.pipeline.det_score import TimingImages, scored_subset, timing_images
from hwbench.pipeline.executor import Batch
from hwbench.pipeline.jobs import ExportJob
from hwbench.pipeline.stage import StageContext, run_stage
from hwbench.postprocess.nms import NmsSettings

# Test images each detector is timed on (the first ones of the scored split, the same for every network).
TIMING_IMAGES = 24


def nms_settings(target: Target) -> NmsSettings:
    """The target's post-processing settings (the `nms:` mapping of its file; defaults when absent)."""
    return NmsSettings.from_dict(target.nms, target.source)


def det_timing_stage(ctx: StageContext) -> None:
    """Export trained detectors per target and time them in parts where the target runs; keyed, resumable,
    failures recorded."""
    from hwbench.pipeline.training_plan import weights_path
    from hwbench.store.detection import get_detection_timing, link_detection_timing
    from hwbench.store.keys import digest

    plan, store = ctx.plan, ctx.store
    tp = plan.training
    assert isinstance(tp, DetTrainingPlan)
    req = plan.request
    pending: dict[str, dict[str, Any]] = {}
    sites: list[Site] = []
    untrained = 0
    try:
        for target in plan.targets:
            if target.modelled:
                continue  # nothing to time: the measure stage modelled its graph (NMS is not modelled)
            trained = [(a, train_key(a, tp)) for a in ctx.archs]
            trained = [(a, k) for a, k in trained if _has_weights(store, req, k, weights_path)]
            untrained += len(ctx.archs) - len(trained)
            if not trained:
                continue
            site = site_for(ctx, target)
            if site is None:
                continue  # its board is unreachable: said why; its detectors stay pending
            sites.append(site)
            settings = nms_settings(target)
            for arch, acc_key in trained:
                images = {"dataset": tp.dataset_id, "count": TIMING_IMAGES, "scored": scored_subset(tp)}
                key = digest(
                    {
                        "trained": acc_key,
                        "profile": target.profile(),
                        "target_fp": site.fp,
                        "nms": settings.key(),
                        "images": images,
                        **({"session": req.timing_session} if req.timing_session else {}),
                    }
                )
                row = get_detection_timing(store, key)
                if row is not None and _done(row, req.retry_errors):
                    link_detection_timing(store, req.name, arch.spec.arch_id, target.name, key)
                    continue
                pending[key] = {
                    "arch": arch,
                    "site": site,
                    "acc_key": acc_key,
                    "settings": settings,
                    "export": _export_job(ctx, arch, target, weights_path(req, acc_key)),
                }
        if untrained:
            ctx.ui.note(
                f"{untrained} (detector, target) pairs have no trained weights: their NMS is not timed "
                "(graph latency only)"
            )
        plan.counts["detection_timings"] = len(pending)
        if pending:
            os.makedirs(req.artifact_dir, exist_ok=True)
            _calibrate(ctx, pending)
            _export(ctx, pending)
            _time(ctx, tp, pending)
    finally:
        for site in sites:
            if site.board is not None:
                site.board.client.close()


def _has_weights(store: Any, req: Any, acc_key: str, weights_path: Any) -> bool:
    trained = store.get_accuracy(acc_key)
    return trained is not None and trained["status"] == "ok" and weights_path(req, acc_key).is_file()


def _done(row: Any, retry_errors: bool) -> bool:
    """Whether a stored timing stands: ok (its backbone too, when retrying errors), or failed and not retried (a lost
    board's failure is always retried)."""
    info = json.loads(row["info_json"] or "{}")
    if row["status"] == "ok":
        # A backbone that failed (its export, or a board's agent too old to time it), or a timing judged disturbed,
        # is timed again when asked (like a disturbed measurement).
        return not (retry_errors and ("error" in (info.get("backbone") or {}) or _disturbed(row)))
    return not retry_errors and not info.get("transport_error")


def _disturbed(row: Any) -> bool:
    """Whether a stored timing was judged disturbed (a record stored before schema 8 has no say: not)."""
    return bool(dict(row).get("disturbed"))


def _export_job(ctx: StageContext, arch: Any, target: Target, weights: Any) -> dict[str, Any]:
    from hwbench.export.artifacts import ArtifactStore
    from hwbench.pipeline.keys import calibration_for
    from hwbench.pipeline.token_inputs import TokenInputs, uses_token_inputs

    req = ctx.plan.request
    # A pruning ViT detector is prepared (fixed-count slots) and counted on the dataset's training images.
    inputs = TokenInputs(ctx.plan, ArtifactStore(req.artifact_dir)) if uses_token_inputs(arch.spec) else None
    return ExportJob(
        spec_json=arch.spec.canonical_json,
        token_inputs=inputs.for_arch(arch.spec) if inputs is not None else None,
        token_form=target.token_form,
        arch_id=arch.spec.arch_id,
        format=target.export_format,
        precision=target.precision,
        options=target.export_options,
        profile=target.profile(),
        artifact_dir=str(ArtifactStore(req.artifact_dir).root),
        calibration=calibration_for(ctx.plan),
        weights=str(weights),
    ).wire()


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
    _export_backbones(ctx, pending, workers)


def _export_backbones(ctx: StageContext, pending: dict[str, dict[str, Any]], workers: int) -> None:
    """ViT detectors (timed on this machine, a Ray node or a board): their backbone alone too (backbone-only
    latency)."""
    from hwbench.models.det_vit_export import run_backbone_export

    def record(key: str, result: dict[str, Any]) -> int:
        pending[key]["backbone"] = result
        return 1

    jobs = [
        (key, p["export"])
        for key, p in pending.items()
        if p["arch"].spec.family == "det_vit" and p["settings"].placement == "host"
    ]
    if jobs:
        batch = Batch("export", run_backbone_export, workers, ctx.plan.request.export_timeout, threads=1)
        run_stage(ctx, batch, jobs, title="exporting ViT detector backbones", total=len(jobs), record=record)


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
    """Time each exported detector where its target runs, one job at a time per place, and store the records."""
    from hwbench.pipeline.det_run import run_site

    req = ctx.plan.request
    images: dict[int, TimingImages] = {}
    by_site: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for key, p in pending.items():
        exported = p.get("exported") or {"status": "error", "error": "the export did not finish"}
        if exported.get("status") != "ok":
            error = f"export of the trained weights failed: {exported.get('error')}"
            store_timing(ctx, key, p, {"status": "error", "error": error})
            continue
        try:
            artifact = _artifact(p)
        except Exception as exc:  # an in-graph NMS the graph cannot take: a record, the sweep goes on
            store_timing(ctx, key, p, {"status": "error", "error": f"in-graph NMS: {type(exc).__name__}: {exc}"})
            continue
        resolution = int(p["arch"].spec.arch.resolution)
        if resolution not in images:
            images[resolution] = timing_images(tp, resolution, req.artifact_dir)
        p["artifact_hash"], p["artifact"], p["images"] = exported["artifact_hash"], artifact, images[resolution]
        target: Target = p["site"].target
        job = {
            "artifact": artifact,
            "runner": target.runner,
            "runner_options": target.runner_options,
            "threads": target.threads,
            "nms": p["settings"].key(),
            "images": images[resolution].path,
            "count": TIMING_IMAGES,
            "mean": images[resolution].mean,
            "std": images[resolution].std,
            "max_seconds": target.measurement.max_seconds,
            "seed": target.measurement.input_seed,
        }
        backbone = p.get("backbone") or {}
        if backbone.get("status") == "ok":  # timed after the parts, image by image (hwbench.runners.det_backbone)
            job["backbone"] = backbone["path"]
        elif backbone:
            job["backbone_error"] = backbone.get("error")
        by_site.setdefault(id(p["site"]), []).append((key, job))
    for jobs in by_site.values():
        run_site(ctx, pending[jobs[0][0]]["site"], timing_order(jobs, pending), pending)


def timing_order(jobs: list[tuple[str, dict[str, Any]]], pending: dict[str, dict[str, Any]]) -> list[tuple[str, Any]]:
    """The jobs with each dense ViT detector timed right before its pruned counterparts (a stable sort by the dense
    counterpart's id, groups in order of first appearance): their speed-ups pair two windows, and the machine's
    speed shifts by several percent between windows minutes apart (docs/measurement.md)."""
    from hwbench.space.det_vit import dense_detector

    def group(key: str) -> tuple[str, int]:
        spec = pending[key]["arch"].spec
        if spec.family != "det_vit":
            return spec.arch_id, 0
        return str(dense_detector(spec).arch_id), int(spec.block != "vit")  # the dense one first

    groups = [group(key) for key, _ in jobs]
    first: dict[str, int] = {}
    for i, (dense_id, _) in enumerate(groups):
        first.setdefault(dense_id, i)
    order = sorted(range(len(jobs)), key=lambda i: (first[groups[i][0]], groups[i][1]))
    return [jobs[i] for i in order]
