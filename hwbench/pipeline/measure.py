"""Stage 3: measure every artifact on every target, in a shuffled order, one at a time, never beside exports."""

from __future__ import annotations

import os
from typing import Any

from hwbench.config.target import Target
from hwbench.export.artifacts import ArtifactStore
from hwbench.measure.provenance import conditions, git_commit, machine_id, versions
from hwbench.pipeline import Plan
from hwbench.pipeline.export import calibration_for, key_for
from hwbench.pipeline.sample import SweepArch
from hwbench.progress import Progress
from hwbench.runners import get_runner
from hwbench.space.sampling import space_rng
from hwbench.store import Store
from hwbench.store.keys import digest, measure_key

RESULT_COLUMNS = (
    "status",
    "error",
    "median_ms",
    "mean_ms",
    "std_ms",
    "cov",
    "min_ms",
    "p10_ms",
    "p90_ms",
    "p99_ms",
    "ci_low_ms",
    "ci_high_ms",
    "rel_ci",
    "n_runs",
    "converged",
    "stop_reason",
    "warmup_runs",
    "device_seconds",
    "samples",
    "started_at",
    "finished_at",
)


def target_fingerprint(target: Target) -> tuple[str, dict[str, Any]]:
    """What makes two measurements comparable: runtime and versions, threads, options, machine."""
    runner = get_runner(target.runner)
    identity = {
        "runner": target.runner,
        "threads": target.threads,
        "runner_options": target.runner_options,
        "transport": target.transport,
        "machine": machine_id(),
        "versions": versions(runner.distributions),
    }
    return digest(identity), identity


def measure_timeout(job: dict[str, Any]) -> float:
    """Generous wall-clock limit for one measurement job (loading + warm-up + capped timing)."""
    p = job["protocol"]
    return 120.0 + 2.0 * (p["warmup_seconds"] + p["max_seconds"] + p["cooldown_seconds"])


def measure_stage(plan: Plan, archs: list[SweepArch], store: Store, ui: Progress) -> None:
    """Measure what the store lacks, target by target; each result is stored and linked as it arrives."""
    req = plan.request
    artifacts = ArtifactStore(req.artifact_dir)
    load = conditions()["loadavg_1m"]
    if load is not None and load > 0.5 * (os.cpu_count() or 1):
        ui.note(f"warning: the machine is busy (1-min load {load:.1f}); timings may be disturbed")
    measured = 0
    for target in plan.targets:
        fp, identity = target_fingerprint(target)
        settings = target.measurement.model_dump()
        todo = _pending(plan, archs, store, artifacts, target, fp, settings)
        # A seeded shuffle interleaves blocks, so slow drift of the machine does not favour one block.
        order = space_rng(f"measure:{target.name}", req.seed).permutation(len(todo)) if todo else []
        todo = [todo[i] for i in order]
        if not todo:
            continue
        measured += len(todo)
        _measure_target(plan, store, target, fp, identity, todo, ui)
    plan.counts["measurements"] = measured


def _pending(
    plan: Plan,
    archs: list[SweepArch],
    store: Store,
    artifacts: ArtifactStore,
    target: Target,
    fp: str,
    settings: dict[str, Any],
) -> list[dict[str, Any]]:
    """Link what is already measured (or failed to export); return jobs for the rest."""
    req = plan.request
    calibration = calibration_for(req)
    todo = []
    for arch in archs:
        ekey = key_for(arch, target, calibration)
        export = store.get_export(ekey)
        if export is None or export["status"] != "ok":
            store.link_run(req.name, arch.spec.arch_id, target.name, ekey if export else None, None)
            continue
        mkey = measure_key(export["artifact_hash"], fp, settings)
        row = store.get_measurement(mkey)
        if row is not None and (row["status"] == "ok" or not req.retry_errors):
            store.link_run(req.name, arch.spec.arch_id, target.name, ekey, mkey)
            continue
        todo.append(
            {
                "runner": target.runner,
                "path": str(artifacts.path(export["artifact_hash"], export["extension"])),
                "threads": target.threads,
                "options": target.runner_options,
                "protocol": target.measurement.protocol().as_dict(),
                "seed": target.measurement.input_seed,
                "_keys": (mkey, ekey, export["artifact_hash"], arch.spec.arch_id),
            }
        )
    return todo


def _measure_target(
    plan: Plan,
    store: Store,
    target: Target,
    fp: str,
    identity: dict[str, Any],
    todo: list[dict[str, Any]],
    ui: Progress,
) -> None:
    """Run the jobs of one target in one worker process, strictly one at a time."""
    from hwbench.runners.local import measure_artifact
    from hwbench.workers import run_jobs

    req = plan.request
    settings = target.measurement.model_dump()
    jobs = [(i, {k: v for k, v in job.items() if k != "_keys"}) for i, job in enumerate(todo)]
    failed = 0
    with ui.task(f"measuring {target.name}", len(todo)) as bar:
        for i, result in run_jobs(measure_artifact, jobs, workers=1, timeout=measure_timeout, threads=target.threads):
            mkey, ekey, artifact_hash, arch_id = todo[i]["_keys"]
            row = {k: result.get(k) for k in RESULT_COLUMNS}
            row["converged"] = None if row["converged"] is None else int(row["converged"])
            row.update(
                measure_key=mkey,
                artifact_hash=artifact_hash,
                target_fp=fp,
                target=target.name,
                settings_json=settings,
                order_index=i,
                info_json=result.get("info") or {},
            )
            if result["status"] != "ok":
                failed += 1
                row["info_json"] = {"traceback": result.get("traceback")}
            provenance = {**(result.get("provenance") or {}), "target": identity, "commit": git_commit()}
            store.put_measurement(row, provenance, (req.name, arch_id, target.name, ekey, mkey))
            bar.advance()
    if failed:
        ui.note(f"{target.name}: {failed} of {len(todo)} measurements failed; they are recorded")
