"""Stage 2: export every (architecture, export profile) once, in worker processes, cached by key and hash."""

from __future__ import annotations

import os
from typing import Any

from hwbench.blocks import get_block
from hwbench.config.target import Target
from hwbench.export import get_exporter
from hwbench.export.artifacts import ArtifactStore
from hwbench.measure.provenance import git_commit, machine_info, versions
from hwbench.pipeline import Plan
from hwbench.pipeline.sample import SweepArch
from hwbench.progress import Progress
from hwbench.store import Store
from hwbench.store.keys import export_key


def key_for(arch: SweepArch, target: Target) -> str:
    """The export key of an architecture under a target's profile (converter versions included)."""
    exporter = get_exporter(target.export_format)
    return export_key(
        arch.spec.arch_id,
        target.profile(),
        versions(exporter.distributions),
        get_block(arch.spec.block).version,
    )


def needs_export(row: Any, artifacts: ArtifactStore, retry_errors: bool) -> bool:
    """Missing, a failure to retry, or an artifact whose bytes no longer match its hash (then rebuilt)."""
    if row is None:
        return True
    if row["status"] != "ok":
        return retry_errors
    return not artifacts.verify(row["artifact_hash"], row["extension"])


def export_stage(plan: Plan, archs: list[SweepArch], store: Store, ui: Progress) -> None:
    """Export what the store lacks; record each result (ok or error) as it arrives."""
    from hwbench.workers import run_jobs

    req = plan.request
    artifacts = ArtifactStore(req.artifact_dir)
    jobs: dict[str, dict[str, Any]] = {}
    for target in plan.targets:
        for arch in archs:
            key = key_for(arch, target)
            if key not in jobs and needs_export(store.get_export(key), artifacts, req.retry_errors):
                jobs[key] = {
                    "spec_json": arch.spec.canonical_json,
                    "arch_id": arch.spec.arch_id,
                    "format": target.export_format,
                    "precision": target.precision,
                    "options": target.export_options,
                    "token_form": target.token_form,
                    "profile": target.profile(),
                    "artifact_dir": str(artifacts.root),
                    "threads": 1,
                }
    plan.counts["exports"] = len(jobs)
    if not jobs:
        return
    from hwbench.export.job import run_export

    workers = max(1, min(req.workers or os.cpu_count() or 1, len(jobs)))
    provenance = {"machine": machine_info(), "commit": git_commit()}
    failed = 0
    with ui.task(f"exporting ({workers} workers)", len(jobs)) as bar:
        for key, result in run_jobs(run_export, jobs.items(), workers=workers, timeout=req.export_timeout, threads=1):
            job = jobs[key]
            exporter = get_exporter(job["format"])
            row = {
                "export_key": key,
                "arch_id": job["arch_id"],
                "format": job["format"],
                "profile_json": job["profile"],
                **{
                    k: result.get(k)
                    for k in (
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
                },
            }
            failed += result["status"] != "ok"
            store.put_export(row, {**provenance, "versions": versions(exporter.distributions)})
            bar.advance()
    if failed:
        ui.note(f"{failed} of {len(jobs)} exports failed; they are recorded (see `hwbench show {req.name}`)")
