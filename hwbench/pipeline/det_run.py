"""Where a target's detectors are timed (this machine, its Ray node, its board), and running the jobs there.

On this machine the records are scored and stored after the last job has been timed: scoring the mAP (and its
bootstrap) on the driver would load the very cores the next detector is timed on. A Ray node or a board times on
another machine, so their records are scored and stored as they arrive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hwbench.config.target import Target
from hwbench.measure.disturbance import CanaryBaseline
from hwbench.pipeline.executor import Batch, Executor, Resources
from hwbench.pipeline.remote import Board
from hwbench.pipeline.stage import StageContext, run_stage


@dataclass
class Site:
    """Where one target's detectors are timed: this machine, its Ray node, or its board, and what keys it."""

    target: Target
    fp: str
    provenance: dict[str, Any]
    executor: Executor | None = None  # local worker processes or the Ray cluster; None for a board
    resources: Resources = field(default_factory=Resources)
    board: Board | None = None
    # The fastest canary of each kind seen in this target's detection timings: each record's canary drift is judged
    # against it, as a measurement block's (hwbench.measure.disturbance).
    baseline: CanaryBaseline = field(default_factory=CanaryBaseline)


def site_for(ctx: StageContext, target: Target) -> Site | None:
    """Where the target's detectors are timed, with its fingerprint (the board's or node's own) and provenance."""
    from hwbench.measure.provenance import git_commit, machine_info
    from hwbench.pipeline.executor import LocalExecutor
    from hwbench.pipeline.measurements import target_fingerprint

    commit = git_commit()
    if target.transport == "agent":
        from hwbench.pipeline.det_remote import agent_provenance, connect_board

        board = connect_board(target, ctx.ui)
        if board is None:
            return None
        fp, identity = target_fingerprint(target, board.facts)
        provenance = {**agent_provenance(board), "target": identity, "commit": commit}
        return Site(target, fp, provenance, board=board)
    if target.transport == "ray-node":
        from hwbench.pipeline.cluster_node import exclusive_resources, node_facts

        resources = exclusive_resources(ctx.executor, target)
        facts = node_facts(ctx.executor, target, resources)
        fp, identity = target_fingerprint(target, node=facts)
        node = {"resource": target.ray_resource, "cpus": resources.cpus, **facts.get("executor", {})}
        provenance = {"machine": facts["machine"], "target": identity, "commit": commit, "ray_node": node}
        return Site(target, fp, provenance, executor=ctx.executor, resources=resources)
    fp, identity = target_fingerprint(target)
    # Always this machine's worker processes, whatever runs the other stages: the fingerprint is this machine's.
    provenance = {"machine": machine_info(), "target": identity, "commit": commit}
    return Site(target, fp, provenance, executor=LocalExecutor())


def run_site(ctx: StageContext, site: Site, jobs: list[tuple[str, dict[str, Any]]], pending: dict[str, Any]) -> None:
    """Time `jobs` (timing key, job) where `site` says, one at a time; every result becomes a record."""
    from hwbench.pipeline.det_records import store_timing
    from hwbench.runners.detection import detection_timeout

    # A job's time limit grows with the images it scores.
    counts = {pending[key]["images"].path: len(pending[key]["images"].split) for key, _ in jobs}

    def timeout(job: dict[str, Any]) -> float:
        return detection_timeout(job, counts.get(job["images"], 0))

    target = site.target
    if site.board is not None:
        from hwbench.pipeline.det_remote import time_on_board

        def record_now(key: str, result: dict[str, Any]) -> None:
            store_timing(ctx, key, pending[key], result)

        time_on_board(site.board, target, jobs, lambda key: _files(pending[key]), timeout, record_now, ctx.ui)
        return
    from hwbench.runners.det_backbone import measure_with_backbone

    local = site.executor.name == "local"
    done: list[tuple[str, dict[str, Any]]] = []

    def record(key: str, result: dict[str, Any]) -> int:
        if local:
            done.append((key, result))
        else:
            store_timing(ctx, key, pending[key], result)
        return 1

    batch = Batch(
        f"measure:{target.name}",
        measure_with_backbone,  # the parts, and a ViT detector's backbone alone where it was exported
        1,
        timeout,
        threads=target.threads,
        resources=site.resources,
    )
    here = StageContext(ctx.plan, ctx.archs, ctx.store, ctx.ui, site.executor)
    where = f" on {target.ray_resource}" if target.transport == "ray-node" else ""
    try:
        run_stage(here, batch, jobs, title=f"timing detectors on {target.name}{where}", total=len(jobs), record=record)
    finally:  # an interrupted run keeps what was timed
        for _, result in done:  # every record judged against the fastest canary of the whole run
            site.baseline.observe(result.get("canary"))
        for key, result in done:
            store_timing(ctx, key, pending[key], result)


def _files(p: dict[str, Any]) -> tuple[tuple[str, str, str], tuple[str, str], tuple[str, str, str] | None]:
    """((artifact path, sha256, extension), (images path, sha256), the backbone's artifact like the detector's or
    None): what a board may need uploaded."""
    from pathlib import Path

    from hwbench.export.artifacts import file_hash

    def named(path: str) -> tuple[str, str, str]:
        return path, file_hash(path), Path(path).suffix

    artifact = named(p["artifact"])  # the in-graph NMS copy is not named by its hash: hash the file itself
    exported = p.get("backbone") or {}
    backbone = named(exported["path"]) if exported.get("status") == "ok" else None
    return artifact, (p["images"].path, p["images"].sha256), backbone
