"""Stage 2: export every (architecture, export profile) once, in worker processes, cached by key and hash."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.blocks import get_block
from hwbench.config.target import Target
from hwbench.export import get_exporter
from hwbench.export.artifacts import ArtifactStore
from hwbench.export.calibration import SYNTHETIC
from hwbench.measure.provenance import git_commit, machine_info, versions
from hwbench.pipeline import Plan
from hwbench.pipeline.sample import SweepArch
from hwbench.pipeline.token_inputs import TokenInputs, inputs_key, uses_token_inputs
from hwbench.progress import Progress
from hwbench.store import Store
from hwbench.store.keys import export_key

SAMPLE_KEYS = ("calibration_samples", "fidelity_samples")  # export options that read calibration images
RECORD_COLUMNS = (
    "status",
    "error",
    "artifact_hash",
    "extension",
    "export_seconds",
    "parity_ok",
    "max_abs_err",
    "max_rel_err",
    "ops_json",
    "info_json",
)


def calibration_for(plan: Plan) -> dict[str, Any]:
    """Where int8 calibration (and fidelity) inputs come from: the sweep's dataset, else labelled synthetic."""
    tp = plan.training
    if tp is None:
        return dict(SYNTHETIC)
    return {"source": "dataset", "dataset": tp.ref.name, "dataset_id": tp.dataset_id}


def profile_for(target: Target, calibration: dict[str, Any]) -> dict[str, Any]:
    """The target's export profile, plus the calibration source for exports that read one."""
    profile = target.profile()
    if get_exporter(target.export_format).calibrated(target.precision, target.export_options):
        profile["calibration"] = calibration
    return profile


def keyed_profile(arch: SweepArch, profile: dict[str, Any], token_inputs: dict[str, Any] | None) -> dict[str, Any]:
    """The profile an export of `arch` is keyed and recorded under: data-dependent ViTs prepared on dataset
    images add which ones (hwbench.pipeline.token_inputs)."""
    if token_inputs is None or not uses_token_inputs(arch.spec):
        return profile
    return {**profile, "token_inputs": token_inputs}


def _key(arch: SweepArch, profile: dict[str, Any], token_inputs: dict[str, Any] | None = None) -> str:
    exporter = get_exporter(profile["format"])
    profile = keyed_profile(arch, profile, token_inputs)
    block_version = get_block(arch.spec.block).version
    return export_key(
        arch.spec.arch_id, profile, versions(exporter.distributions), block_version, exporter.artifact_version
    )


def key_for(
    arch: SweepArch, target: Target, calibration: dict[str, Any], token_inputs: dict[str, Any] | None = None
) -> str:
    """The export key of an architecture under a target's profile (converter versions included)."""
    return _key(arch, profile_for(target, calibration), token_inputs)


def needs_export(row: Any, artifacts: ArtifactStore, retry_errors: bool) -> bool:
    """Missing, a failure to retry, or an artifact whose bytes no longer match its hash (then rebuilt)."""
    if row is None:
        return True
    if row["status"] != "ok":
        return retry_errors
    return not artifacts.verify(row["artifact_hash"], row["extension"])


def _job(arch: SweepArch, profile: dict[str, Any], artifacts: ArtifactStore, inputs: TokenInputs) -> dict[str, Any]:
    options = {k: v for k, v in profile.items() if k not in ("format", "precision", "calibration", "token_form")}
    profile = keyed_profile(arch, profile, inputs_key(inputs.plan))
    token = {"token_inputs": inputs.for_arch(arch.spec)} if uses_token_inputs(arch.spec) else {}
    return {
        **token,
        "spec_json": arch.spec.canonical_json,
        "arch_id": arch.spec.arch_id,
        "format": profile["format"],
        "precision": profile["precision"],
        "options": options,
        "calibration": profile.get("calibration"),
        "token_form": profile.get("token_form", "auto"),
        "profile": profile,
        "artifact_dir": str(artifacts.root),
        "threads": 1,
    }


def plan_exports(
    plan: Plan, archs: list[SweepArch], store: Store, artifacts: ArtifactStore
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Jobs for what the store lacks, and which jobs wait for another's artifact (e.g. int8 on its fp32 file).

    A derived export whose base artifact is missing or corrupt brings the base export along, even when no
    target of the sweep uses the base itself; the base is then converted once for every derived profile.
    """
    req = plan.request
    calibration = calibration_for(plan)
    token_inputs, inputs = inputs_key(plan), TokenInputs(plan, artifacts)
    jobs: dict[str, dict[str, Any]] = {}
    waiting: dict[str, list[str]] = {}
    for target in plan.targets:
        base_profile = get_exporter(target.export_format).base_profile(target.precision, target.export_options)
        profile = profile_for(target, calibration)
        for arch in archs:
            key = _key(arch, profile, token_inputs)
            if key in jobs or not needs_export(store.get_export(key), artifacts, req.retry_errors):
                continue
            jobs[key] = _job(arch, profile, artifacts, inputs)
            if base_profile is None:
                continue
            base_key = jobs[key]["base_key"] = _key(arch, base_profile, token_inputs)
            if base_key not in jobs and needs_export(store.get_export(base_key), artifacts, req.retry_errors):
                jobs[base_key] = _job(arch, base_profile, artifacts, inputs)
            if base_key in jobs:
                waiting.setdefault(base_key, []).append(key)
    return jobs, waiting


def with_base(job: dict[str, Any], base: Any, artifacts: ArtifactStore) -> dict[str, Any]:
    """A derived job given its base export's record: the base artifact's path, or the reason there is none."""
    if base is None or base["status"] != "ok":
        reason = base["error"] if base is not None else "no record"
        return {**job, "base_error": f"the {_describe(job)} export it starts from failed: {reason}"}
    if not artifacts.verify(base["artifact_hash"], base["extension"]):
        return {**job, "base_error": f"the artifact of base export {job['base_key']} is missing or corrupt"}
    path = artifacts.path(base["artifact_hash"], base["extension"])
    context = {"base_path": str(path), "base_export_key": job["base_key"], "base_seconds": base["export_seconds"]}
    return {**job, "context": context}


def _describe(job: dict[str, Any]) -> str:
    return f"{job['format']} fp32" if job["precision"] != "fp32" else job["format"]


def export_stage(plan: Plan, archs: list[SweepArch], store: Store, ui: Progress) -> None:
    """Export what the store lacks; record each result (ok or error) as it arrives."""
    req = plan.request
    artifacts = ArtifactStore(req.artifact_dir)
    jobs, waiting = plan_exports(plan, archs, store, artifacts)
    plan.counts["exports"] = len(jobs)
    if not jobs:
        return

    if calibration_for(plan)["source"] == "dataset":
        with tempfile.TemporaryDirectory(prefix="hwbench-calibration-") as folder:
            attach_images(plan, jobs, Path(folder))
            _export(plan, jobs, waiting, store, artifacts, ui)
    else:
        _export(plan, jobs, waiting, store, artifacts, ui)


def _export(
    plan: Plan,
    jobs: dict[str, dict[str, Any]],
    waiting: dict[str, list[str]],
    store: Store,
    artifacts: ArtifactStore,
    ui: Progress,
) -> None:
    from hwbench.workers import run_jobs

    req = plan.request
    from hwbench.export.job import run_export

    held = {key for keys in waiting.values() for key in keys}
    first = [(key, _ready(job, store, artifacts)) for key, job in jobs.items() if key not in held]

    def followups(key: str, result: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        for dependent in waiting.pop(key, []):
            yield dependent, with_base(jobs[dependent], store.get_export(key), artifacts)

    workers = max(1, min(req.workers or os.cpu_count() or 1, len(jobs)))
    provenance = {"machine": machine_info(), "commit": git_commit()}
    failed = 0
    with ui.task(f"exporting ({workers} workers)", len(jobs)) as bar:
        results = run_jobs(
            run_export, first, workers=workers, timeout=req.export_timeout, threads=1, followups=followups
        )
        for key, result in results:
            job = jobs[key]
            row = {
                "export_key": key,
                "arch_id": job["arch_id"],
                "format": job["format"],
                "profile_json": job["profile"],
                **{k: result.get(k) for k in RECORD_COLUMNS},
            }
            failed += result["status"] != "ok"
            versions_used = versions(get_exporter(job["format"]).distributions)
            store.put_export(row, {**provenance, "versions": versions_used})
            bar.advance()
    if failed:
        ui.note(f"{failed} of {len(jobs)} exports failed; they are recorded (see `hwbench show {req.name}`)")


def attach_images(plan: Plan, jobs: dict[str, dict[str, Any]], folder: Path) -> None:
    """Give every calibrated job the dataset's images at its input shape: disjoint calibration and validation
    sets drawn from the training split (never from the validation split the accuracy is measured on)."""
    from hwbench.accuracy.calibration import calibration_set
    from hwbench.space.archspec import ArchSpec

    tp = plan.training
    n = max(int(j["options"].get(k, 0)) for j in jobs.values() for k in SAMPLE_KEYS)
    files: dict[tuple[int, int], dict[str, str]] = {}
    for job in jobs.values():
        if not job.get("calibration"):
            continue
        arch = ArchSpec.from_json(job["spec_json"]).arch
        shape = (int(arch.resolution), int(arch.in_channels))  # type: ignore[attr-defined]
        if shape not in files:
            images = calibration_set(
                str(tp.ref),
                2 * n,
                shape[0],
                shape[1],
                tp.schedule.spec.normalize,
                val_fraction=tp.schedule.spec.val_fraction,
            )
            files[shape] = {}
            for split, part in (("calibration", images[0::2]), ("validation", images[1::2])):
                files[shape][split] = str(folder / f"{split}-{shape[0]}px-{shape[1]}ch.npy")
                np.save(files[shape][split], part)
        job["calibration"] = {**job["calibration"], "files": files[shape]}


def _ready(job: dict[str, Any], store: Store, artifacts: ArtifactStore) -> dict[str, Any]:
    """A job that can start now: derived jobs whose base is already stored get its path."""
    return with_base(job, store.get_export(job["base_key"]), artifacts) if "base_key" in job else job
