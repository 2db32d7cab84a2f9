"""Stage 4 for detection sweeps: train every detector on the sweep's detection dataset and schedule, score its
COCO mAP on the test split (through the measuring side's post-processing), keyed and resumable like classification."""

from __future__ import annotations

import os
from typing import Any

from hwbench.pipeline.det_plan import DetTrainingPlan, train_key
from hwbench.pipeline.executor import Batch
from hwbench.pipeline.request import SweepArch
from hwbench.pipeline.stage import StageContext, executed_on, run_stage, scratch
from hwbench.pipeline.train_workers import pending_trainings, placement
from hwbench.pipeline.training_plan import weights_path
from hwbench.store.columns import DETECTION_METRICS


def det_training_stage(ctx: StageContext) -> None:
    """Train what the store lacks (or what failed, with --retry-errors), then time trained detectors in parts."""
    from hwbench.pipeline.det_timing import det_timing_stage

    tp = ctx.plan.training
    assert isinstance(tp, DetTrainingPlan)
    # Trained weights are always needed: the detectors are timed in parts from them.
    todo = pending_trainings(ctx, lambda arch: train_key(arch, tp), needs_weights=True)
    with scratch(ctx, "hwbench-det-") as workdir:
        tp.workdir = workdir
        try:
            if todo:
                _train(ctx, tp, todo)
            det_timing_stage(ctx)
        finally:
            tp.prepared.clear()
            tp.workdir = None


def _train(ctx: StageContext, tp: DetTrainingPlan, todo: list[tuple[str, SweepArch]]) -> None:
    from hwbench.accuracy.detection.trainer import train_detection_job
    from hwbench.measure.provenance import git_commit, machine_info, versions

    req = ctx.plan.request
    workers, threads, device, resources = placement(ctx, len(todo))
    jobs: dict[str, dict[str, Any]] = {}
    for key, arch in todo:
        jobs[key] = {
            "spec_json": arch.spec.canonical_json,
            "schedule": {**tp.schedule.math(), "seed": tp.seed},
            "data": tp.data(int(arch.spec.arch.resolution)),  # type: ignore[attr-defined]
            "weights_path": str(weights_path(req, key)),
            "threads": threads,
            "device": device,
            "nms": tp.nms.key(),
        }
    archs = dict(todo)
    provenance = {"machine": machine_info(), "versions": versions(("torch", "numpy")), "commit": git_commit()}

    def record(key: str, result: dict[str, Any]) -> int:
        arch = archs[key]
        row = _record(key, arch, tp, jobs[key], result, str(req.store.parent))
        ctx.store.put_accuracy(row, {**provenance, **executed_on(result)}, [(req.name, arch.spec.arch_id)])
        return 1

    batch = Batch("train", train_detection_job, workers, req.train_timeout, threads, resources)
    title = f"training detectors ({workers} workers × {threads} threads, {device})"
    later = _after_dense(ctx, tp, todo) if ctx.executor.name == "local" else {}
    first = [(k, j) for k, j in jobs.items() if k not in later]
    failed = run_stage(ctx, batch, first, title=title, total=len(first), record=record) if first else 0
    if later:  # pruning ViT detectors: the fine-tune alone, from their dense counterparts' trained weights
        second = []
        for key, dense_key in later.items():
            given = weights_path(req, dense_key)
            stored = ctx.store.get_accuracy(dense_key)
            if stored is not None and stored["status"] == "ok" and given.is_file():
                jobs[key]["dense_weights"] = str(given)
            second.append((key, jobs[key]))
        failed += run_stage(ctx, batch, second, title=f"{title}, pruning fine-tunes", total=len(second), record=record)
    if failed:
        ctx.ui.note(
            f"{failed} of {len(jobs)} trainings failed; they are recorded (`hwbench show {req.name} --accuracy`)"
        )


def _after_dense(ctx: StageContext, tp: DetTrainingPlan, todo: list[tuple[str, SweepArch]]) -> dict[str, str]:
    """Pruning ViT detectors whose dense counterpart this sweep trains (or has trained): key → the dense key. Their
    dense phase is bit for bit the dense detector's training (tests/accuracy/detection/test_pruning_phase.py), so
    they train after it and only fine-tune; the accuracy key is the same either way."""
    from types import SimpleNamespace

    from hwbench.space.det_vit import dense_detector

    ours = {a.spec.arch_id for a in ctx.archs}
    out = {}
    for key, arch in todo:
        # Pruning and LTMP detectors take dense weights; a ToMe one (det_vit_tome) trains its own schedule.
        if arch.spec.family != "det_vit" or (arch.spec.arch.pruning is None and arch.spec.block != "vit_ltmp"):
            continue
        dense = dense_detector(arch.spec)
        if dense.arch_id in ours:
            out[key] = train_key(SimpleNamespace(spec=dense), tp)
    return out


def _record(
    key: str, arch: SweepArch, tp: DetTrainingPlan, job: dict[str, Any], result: dict[str, Any], store_dir: str
) -> dict[str, Any]:
    """The accuracies row of one detector's training (ok or error): mAP columns, top-1 left empty."""
    info = dict(result.get("info") or {})
    weights = result.get("weights")
    if weights:  # relative to the store, so a results folder can move
        info["weights"] = {**weights, "path": os.path.relpath(weights["path"], store_dir)}
    metrics = result.get("metrics") or {}
    error = result.get("error")
    if error and "exit code -9" in error:
        error += " (killed by the system: out of memory?)"
    return {
        "acc_key": key,
        "arch_id": arch.spec.arch_id,
        "dataset": tp.ref.name,
        "dataset_id": tp.dataset_id,
        "schedule": tp.schedule.name,
        "schedule_hash": tp.schedule.hash,
        "evaluated_on": "torch",
        "source": "trained",
        **{k: metrics.get(k) for k in DETECTION_METRICS},
        "train_seconds": result.get("train_seconds"),
        "images_per_second": info.get("images_per_second"),
        "final_train_loss": result.get("final_loss"),
        "status": result["status"],
        "error": error,
        "curve_json": result.get("curve") or [],
        "info_json": {
            **info,
            "task": "detection",
            "eval_images": result.get("eval_images"),
            "seed": tp.seed,
            "dataset_arg": str(tp.ref),
            "resolution": job["data"]["resolution"],
            "normalisation": {"mean": job["data"]["mean"], "std": job["data"]["std"]},
            "nms": job["nms"],
            "schedule": job["schedule"],
        },
    }
