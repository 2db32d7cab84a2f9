"""Stage 4: train every sampled network on the sweep's dataset and schedule, in worker processes.

Runs after the measurement stage, so nothing is timed while training loads the cores. Keyed by
(arch, dataset content, schedule hash, seed, trainer version): a re-run trains only what the store lacks;
failures (a crash, out of memory, a timeout, divergence) are records, retried with --retry-errors.
"""

from __future__ import annotations

import os
from typing import Any

from hwbench.pipeline.executor import Batch
from hwbench.pipeline.jobs import TrainJob
from hwbench.pipeline.request import SweepArch, SweepRequest
from hwbench.pipeline.stage import StageContext, executed_on, run_stage, scratch
from hwbench.pipeline.train_workers import pending_trainings, placement
from hwbench.pipeline.training_plan import (
    TrainingPlan,
    at_resolution,
    check_resolution,
    train_key,
    weights_path,
)
from hwbench.space.archspec import ArchSpec
from hwbench.store.columns import TRAINING_COLUMNS


def training_stage(ctx: StageContext) -> None:
    """Train what the store lacks, then evaluate artifacts of the targets that ask for it."""
    plan = ctx.plan
    tp = plan.training
    if tp is None:
        return
    if not isinstance(tp, TrainingPlan):  # a detection dataset: detectors, mAP, latency in parts
        from hwbench.pipeline.det_train import det_training_stage

        det_training_stage(ctx)
        return
    from hwbench.pipeline.evaluate import artifact_stage, wants_artifacts

    todo = pending_trainings(ctx, lambda arch: train_key(arch.spec, tp), needs_weights=wants_artifacts(plan))
    with scratch(ctx, "hwbench-data-") as workdir:
        tp.workdir = workdir
        try:
            if todo:
                check_resolution([a for _, a in todo], tp)
                _train(ctx, tp, todo)
            artifact_stage(ctx)
        finally:
            tp.prepared.clear()
            tp.workdir = None


def _train(ctx: StageContext, tp: TrainingPlan, todo: list[tuple[str, SweepArch]]) -> None:
    from hwbench.accuracy.trainer import train_job
    from hwbench.measure.provenance import git_commit, machine_info, versions

    req = ctx.plan.request
    workers, threads, device, resources = placement(ctx, len(todo))
    jobs: dict[str, TrainJob] = {}
    for key, arch in todo:
        data = tp.data(int(arch.spec.arch.in_channels))  # type: ignore[attr-defined]
        jobs[key] = TrainJob(
            spec_json=at_resolution(arch.spec, tp.schedule.spec.resolution).canonical_json,
            schedule={**tp.schedule.math(), "seed": tp.seed},
            data=data.as_job(),
            weights_path=str(weights_path(req, key)),
            threads=threads,
            device=device,
        )
    archs = dict(todo)
    provenance = {"machine": machine_info(), "versions": versions(("torch", "numpy")), "commit": git_commit()}

    def record(key: str, result: dict[str, Any]) -> int:
        arch = archs[key]
        row = _record(key, arch, tp, jobs[key], result, req)
        ctx.store.put_accuracy(row, {**provenance, **executed_on(result)}, [(req.name, arch.spec.arch_id)])
        return 1

    batch = Batch("train", train_job, workers, req.train_timeout, threads, resources)
    title = f"training ({workers} workers × {threads} threads, {device})"
    wired = [(key, job.wire()) for key, job in jobs.items()]
    failed = run_stage(ctx, batch, wired, title=title, total=len(jobs), record=record)
    if failed:
        ctx.ui.note(
            f"{failed} of {len(jobs)} trainings failed; they are recorded (`hwbench show {req.name} --accuracy`)"
        )


def _record(
    key: str, arch: SweepArch, tp: TrainingPlan, job: TrainJob, result: dict[str, Any], req: SweepRequest
) -> dict[str, Any]:
    """The accuracies row of one training result (ok or error)."""
    info = dict(result.get("info") or {})
    error = result.get("error")
    if error and "exit code -9" in error:
        error += " (killed by the system: out of memory?)"
    weights = info.get("weights")
    if weights:  # stored relative to the store, so a results folder can move
        info["weights"] = {**weights, "path": os.path.relpath(weights["path"], req.store.parent)}
    data = job.data
    return {
        "acc_key": key,
        "arch_id": arch.spec.arch_id,
        "dataset": tp.ref.name,
        "dataset_id": tp.dataset_id,
        "schedule": tp.schedule.name,
        "schedule_hash": tp.schedule.hash,
        "evaluated_on": "torch",
        "source": "trained",
        **{k: result.get(k) for k in TRAINING_COLUMNS},
        "status": result["status"],
        "error": error,
        "curve_json": result.get("curve") or [],
        "info_json": {
            **info,
            "seed": tp.seed,
            "dataset_arg": str(tp.ref),
            "resolution": data["resolution"],
            "space_resolution": arch.spec.arch.resolution,  # type: ignore[attr-defined]
            # A ViT's token count follows the resolution: the trained network saw fewer tokens than the timed one.
            **_token_counts(arch.spec, int(data["resolution"])),
            "normalisation": {"mean": data["mean"], "std": data["std"]},
            "hflip": data["hflip"],
            "schedule": job.schedule,
        },
    }


def _token_counts(spec: ArchSpec, resolution: int) -> dict[str, int]:
    """{"tokens": trained, "space_tokens": timed} for a ViT (patch tokens + class token); {} for a CNN."""
    if spec.family != "vit":
        return {}
    return {"tokens": at_resolution(spec, resolution).arch.num_tokens, "space_tokens": spec.arch.num_tokens}  # type: ignore[attr-defined]
