"""Stage 5: the accuracy of exported artifacts themselves (e.g. int8), run through each target's runtime.

The latency artifacts hold seeded random weights; here each trained network is exported again from its
trained weights, under the target's export profile, at the schedule's resolution, and scored on the
validation split through the target's runner (`Session.run`). The record's `evaluated_on` is the export key
of the target's profile for that network, so the results table shows it as `artifact_top1` beside latency.
"""

from __future__ import annotations

import os
from typing import Any

from hwbench.config.target import Target
from hwbench.pipeline.executor import Batch
from hwbench.pipeline.jobs import EvalJob, ExportJob
from hwbench.pipeline.plan import Plan
from hwbench.pipeline.stage import StageContext, executed_on, run_stage

# Calibration images for int8 exports of trained weights (taken from the training split, classes in proportion).
CALIBRATION_IMAGES = 64


def evaluated_targets(plan: Plan) -> list[Target]:
    """Targets whose artifacts get an accuracy: each target's own switch (int8 by default), or all, or none."""
    mode = plan.request.eval_artifacts
    if plan.training is None or mode == "none":
        return []
    # A modelled target runs no artifact, so it has no artifact accuracy to score.
    return [t for t in plan.targets if (mode == "all" or t.evaluate_accuracy) and not t.modelled]


def wants_artifacts(plan: Plan) -> bool:
    """Whether any artifact will be evaluated (then trained weights must exist)."""
    return bool(evaluated_targets(plan))


def artifact_stage(ctx: StageContext) -> None:
    """Export trained weights per target profile and score the artifacts; records keyed and resumable.

    Each record names the export the export stage linked for (sweep, network, target); a network without one
    (that target's export stage has not run on this store) is left for a later run.
    """
    from hwbench.export.artifacts import ArtifactStore
    from hwbench.measure.provenance import versions
    from hwbench.pipeline.token_inputs import uses_token_inputs
    from hwbench.pipeline.training_plan import at_resolution, train_key, weights_path
    from hwbench.runners import get_runner
    from hwbench.store.keys import artifact_accuracy_key

    plan, store = ctx.plan, ctx.store
    tp = plan.training
    assert tp is not None
    req = plan.request
    jobs: dict[str, EvalJob] = {}
    links: dict[str, list[tuple[str, str]]] = {}
    meta: dict[str, dict[str, Any]] = {}
    for target in evaluated_targets(plan):
        runtime = versions(get_runner(target.runner).distributions)
        exports = store.sweep_exports(req.name, target.name)
        for arch in ctx.archs:
            trained_key = train_key(arch.spec, tp)
            trained = store.get_accuracy(trained_key)
            weights = weights_path(req, trained_key)
            if trained is None or trained["status"] != "ok" or not weights.is_file():
                continue
            ekey = exports.get(arch.spec.arch_id)
            if ekey is None:
                continue
            key = artifact_accuracy_key(trained_key, ekey, target.runner, runtime)
            row = store.get_accuracy(key)
            if row is not None and (row["status"] == "ok" or not req.retry_errors):
                store.link_accuracy(req.name, arch.spec.arch_id, key)
                continue
            links.setdefault(key, []).append((req.name, arch.spec.arch_id))
            if key in jobs:
                continue
            data = tp.data(int(arch.spec.arch.in_channels))  # type: ignore[attr-defined]
            spec = at_resolution(arch.spec, tp.schedule.spec.resolution)
            export = ExportJob(
                spec_json=spec.canonical_json,
                arch_id=spec.arch_id,
                format=target.export_format,
                precision=target.precision,
                options=target.export_options,
                profile=target.profile(),
                artifact_dir=str(ArtifactStore(req.artifact_dir).root),
                token_form=target.token_form,
                weights=str(weights),
            )
            jobs[key] = EvalJob(
                acc_key=key,
                export=export.wire(),
                runner=target.runner,
                runner_options=target.runner_options,
                data=data.as_job(),
                dataset_calibration={"source": "dataset", "dataset": tp.ref.name, "dataset_id": tp.dataset_id},
                calibration_images=CALIBRATION_IMAGES if target.precision == "int8" else 0,
                token_inputs=uses_token_inputs(arch.spec),
            )
            meta[key] = {"arch": arch, "export_key": ekey, "trained_key": trained_key, "target": target.name}
    plan.counts["artifact_evals"] = len(jobs)
    if jobs:
        os.makedirs(req.artifact_dir, exist_ok=True)
        _run(ctx, jobs, links, meta)


def _run(
    ctx: StageContext,
    jobs: dict[str, EvalJob],
    links: dict[str, list[tuple[str, str]]],
    meta: dict[str, dict[str, Any]],
) -> None:
    from hwbench.accuracy.evaluate import evaluate_artifact_job
    from hwbench.measure.provenance import git_commit, machine_info

    tp = ctx.plan.training
    assert tp is not None
    req = ctx.plan.request
    workers = max(1, min(req.workers or os.cpu_count() or 1, len(jobs)))
    provenance = {"machine": machine_info(), "commit": git_commit()}

    def record(key: str, result: dict[str, Any]) -> int:
        m = meta[key]
        row = {
            "acc_key": key,
            "arch_id": m["arch"].spec.arch_id,
            "dataset": tp.ref.name,
            "dataset_id": tp.dataset_id,
            "schedule": tp.schedule.name,
            "schedule_hash": tp.schedule.hash,
            "evaluated_on": m["export_key"],
            "source": "artifact",
            "status": result["status"],
            "error": result.get("error"),
            "top1": result.get("top1"),
            "top5": result.get("top5"),
            "loss": result.get("loss"),
            "info_json": {
                **(result.get("info") or {}),
                "trained_acc_key": m["trained_key"],
                "target": m["target"],
                "profile": jobs[key].export["profile"],
                "runner": jobs[key].runner,
                "resolution": tp.schedule.spec.resolution,
            },
        }
        ctx.store.put_accuracy(row, {**provenance, **executed_on(result)}, links[key])
        return 1

    batch = Batch("evaluate", evaluate_artifact_job, workers, req.export_timeout, threads=1)
    title = f"artifact accuracy ({workers} workers)"
    wired = [(key, job.wire()) for key, job in jobs.items()]
    failed = run_stage(ctx, batch, wired, title=title, total=len(jobs), record=record)
    if failed:
        ctx.ui.note(f"{failed} of {len(jobs)} artifact evaluations failed; they are recorded")
