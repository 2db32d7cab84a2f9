"""Stage 2: export every (architecture, export profile) once, in worker processes, cached by key and hash."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.export import get_exporter
from hwbench.export.artifacts import ArtifactStore
from hwbench.measure.provenance import git_commit, machine_info, versions
from hwbench.pipeline.executor import Batch
from hwbench.pipeline.jobs import ExportJob
from hwbench.pipeline.keys import SweepKeys, calibration_for
from hwbench.pipeline.plan import Plan
from hwbench.pipeline.request import SweepArch
from hwbench.pipeline.stage import StageContext, executed_on, run_stage, scratch
from hwbench.pipeline.token_inputs import TokenInputs, uses_token_inputs
from hwbench.store import Store
from hwbench.store.columns import EXPORT_COLUMNS

SAMPLE_KEYS = ("calibration_samples", "fidelity_samples")  # export options that read calibration images


def needs_export(row: Any, artifacts: ArtifactStore, retry_errors: bool) -> bool:
    """Missing, a failure to retry, or an artifact whose bytes no longer match its hash (then rebuilt)."""
    if row is None:
        return True
    if row["status"] != "ok":
        return retry_errors
    return not artifacts.verify(row["artifact_hash"], row["extension"])


def _job(
    arch: SweepArch,
    profile: dict[str, Any],
    artifacts: ArtifactStore,
    inputs: TokenInputs,
    keys: SweepKeys,
    base_key: str | None = None,
) -> ExportJob:
    options = {k: v for k, v in profile.items() if k not in ("format", "precision", "calibration", "token_form")}
    keyed = keys.keyed_profile(arch, profile)
    return ExportJob(
        spec_json=arch.spec.canonical_json,
        arch_id=arch.spec.arch_id,
        format=keyed["format"],
        precision=keyed["precision"],
        options=options,
        profile=keyed,
        artifact_dir=str(artifacts.root),
        token_form=keyed.get("token_form", "auto"),
        calibration=keyed.get("calibration"),
        token_inputs=inputs.for_arch(arch.spec) if uses_token_inputs(arch.spec) else None,
        base_key=base_key,
    )


def plan_exports(
    plan: Plan, archs: list[SweepArch], store: Store, artifacts: ArtifactStore
) -> tuple[dict[str, ExportJob], dict[str, list[str]], dict[str, list[tuple[str, str, str]]]]:
    """Jobs for what the store lacks, which jobs wait for another's artifact (e.g. int8 on its fp32 file), and
    the (sweep, network, target) triples each export key serves.

    Exports already stored are linked to the sweep here; the others when their result is recorded. A derived
    export whose base artifact is missing or corrupt brings the base export along, even when no target of the
    sweep uses the base itself; the base is then converted once for every derived profile.
    """
    req = plan.request
    keys, inputs = SweepKeys(plan), TokenInputs(plan, artifacts)
    jobs: dict[str, ExportJob] = {}
    waiting: dict[str, list[str]] = {}
    links: dict[str, list[tuple[str, str, str]]] = {}
    stored: list[tuple[str, str, str, str]] = []
    for target in plan.targets:
        base_profile = get_exporter(target.export_format).base_profile(target.precision, target.export_options)
        profile = keys.profile(target)
        for arch in archs:
            key = keys.export(arch, profile)
            if key not in jobs and not needs_export(store.get_export(key), artifacts, req.retry_errors):
                stored.append((req.name, arch.spec.arch_id, target.name, key))
                continue
            links.setdefault(key, []).append((req.name, arch.spec.arch_id, target.name))
            if key in jobs:
                continue
            base_key = None if base_profile is None else keys.export(arch, base_profile)
            jobs[key] = _job(arch, profile, artifacts, inputs, keys, base_key)
            if base_profile is None or base_key is None:
                continue
            if base_key not in jobs and needs_export(store.get_export(base_key), artifacts, req.retry_errors):
                jobs[base_key] = _job(arch, base_profile, artifacts, inputs, keys)
            if base_key in jobs:
                waiting.setdefault(base_key, []).append(key)
    store.link_exports(stored)
    return jobs, waiting, links


def with_base(job: ExportJob, base: Any, artifacts: ArtifactStore) -> ExportJob:
    """A derived job given its base export's record: the base artifact's path, or the reason there is none."""
    if base is None or base["status"] != "ok":
        reason = base["error"] if base is not None else "no record"
        return replace(job, base_error=f"the {job.describe()} export it starts from failed: {reason}")
    if not artifacts.verify(base["artifact_hash"], base["extension"]):
        return replace(job, base_error=f"the artifact of base export {job.base_key} is missing or corrupt")
    path = artifacts.path(base["artifact_hash"], base["extension"])
    context = {"base_path": str(path), "base_export_key": job.base_key, "base_seconds": base["export_seconds"]}
    return replace(job, context=context)


def export_stage(ctx: StageContext) -> None:
    """Export what the store lacks; record each result (ok or error) and link it to the sweep as it arrives."""
    plan = ctx.plan
    artifacts = ArtifactStore(plan.request.artifact_dir)
    jobs, waiting, links = plan_exports(plan, ctx.archs, ctx.store, artifacts)
    plan.counts["exports"] = len(jobs)
    if not jobs:
        return
    if calibration_for(plan)["source"] == "dataset":
        with scratch(ctx, "hwbench-calibration-") as folder:
            attach_images(plan, jobs, folder)
            _export(ctx, jobs, waiting, links, artifacts)
    else:
        _export(ctx, jobs, waiting, links, artifacts)


def _export(
    ctx: StageContext,
    jobs: dict[str, ExportJob],
    waiting: dict[str, list[str]],
    links: dict[str, list[tuple[str, str, str]]],
    artifacts: ArtifactStore,
) -> None:
    from hwbench.export.job import run_export

    req, store = ctx.plan.request, ctx.store
    held = {key for keys in waiting.values() for key in keys}
    first = [(key, _ready(job, store, artifacts).wire()) for key, job in jobs.items() if key not in held]

    def followups(key: str, result: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        for dependent in waiting.pop(key, []):
            yield dependent, with_base(jobs[dependent], store.get_export(key), artifacts).wire()

    def record(key: str, result: dict[str, Any]) -> int:
        job = jobs[key]
        row = {
            "export_key": key,
            "arch_id": job.arch_id,
            "format": job.format,
            "profile_json": job.profile,
            **{k: result.get(k) for k in EXPORT_COLUMNS},
        }
        used = versions(get_exporter(job.format).distributions)
        store.put_export(row, {**provenance, "versions": used, **executed_on(result)}, links.get(key, ()))
        return 1

    workers = max(1, min(req.workers or os.cpu_count() or 1, len(jobs)))
    provenance = {"machine": machine_info(), "commit": git_commit()}
    batch = Batch("export", run_export, workers, req.export_timeout, threads=1, followups=followups)
    title = f"exporting ({workers} workers)" if ctx.executor.name == "local" else "exporting (Ray)"
    failed = run_stage(ctx, batch, first, title=title, total=len(jobs), record=record)
    if failed:
        ctx.ui.note(f"{failed} of {len(jobs)} exports failed; they are recorded (see `hwbench show {req.name}`)")


def attach_images(plan: Plan, jobs: dict[str, ExportJob], folder: Path) -> None:
    """Give every calibrated job the dataset's images at its input shape: disjoint calibration and validation
    sets drawn from the training split (never from the validation split the accuracy is measured on)."""
    from hwbench.accuracy.calibration import calibration_set
    from hwbench.pipeline.det_plan import DetTrainingPlan
    from hwbench.pipeline.det_plan import calibration_images as det_calibration_images
    from hwbench.space.archspec import ArchSpec

    tp = plan.training
    assert tp is not None
    n = max(int(j.options.get(k, 0)) for j in jobs.values() for k in SAMPLE_KEYS)
    files: dict[tuple[int, int], dict[str, str]] = {}
    for key, job in jobs.items():
        if not job.calibration:
            continue
        arch = ArchSpec.from_json(job.spec_json).arch
        shape = (int(arch.resolution), int(arch.in_channels))  # type: ignore[attr-defined]
        if shape not in files:
            images = (
                det_calibration_images(tp.ref, 2 * n, shape[0])
                if isinstance(tp, DetTrainingPlan)
                else calibration_set(
                    str(tp.ref),
                    2 * n,
                    shape[0],
                    shape[1],
                    tp.schedule.spec.normalize,
                    val_fraction=tp.schedule.spec.val_fraction,
                )
            )
            files[shape] = {}
            for split, part in (("calibration", images[0::2]), ("validation", images[1::2])):
                files[shape][split] = str(folder / f"{split}-{shape[0]}px-{shape[1]}ch.npy")
                np.save(files[shape][split], part)
        jobs[key] = replace(job, calibration={**job.calibration, "files": files[shape]})


def _ready(job: ExportJob, store: Store, artifacts: ArtifactStore) -> ExportJob:
    """A job that can start now: derived jobs whose base is already stored get its path."""
    return with_base(job, store.get_export(job.base_key), artifacts) if job.base_key else job
