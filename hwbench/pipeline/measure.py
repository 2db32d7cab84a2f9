"""Stage 3: measure every artifact on every target, in a shuffled order, one at a time, never beside exports.

Each network is measured in rounds (pipeline.rounds): round 2 of a target's networks after round 1 of all of them,
disturbed rounds re-measured once the machine is quiet. Local targets run in a worker process here; agent targets
are measured on their board (pipeline.remote) with the same rounds and the same disturbance rules.
"""

from __future__ import annotations

from typing import Any

from hwbench.config.target import Target
from hwbench.export.artifacts import ArtifactStore
from hwbench.pipeline.executor import Batch, Executor, LocalExecutor, Resources
from hwbench.pipeline.jobs import MeasureJob
from hwbench.pipeline.measurements import (
    Block,
    count_disturbed,
    measure_timeout,
    pending,
    round_recorder,
    target_fingerprint,
)
from hwbench.pipeline.stage import StageContext


def measure_stage(ctx: StageContext) -> None:
    """Measure what the store lacks, target by target; each result is stored and linked as it arrives.

    The artifacts are the ones the export stage linked to (sweep, network, target): this stage never re-derives
    an export key, so it can run alone, next to the boards, on a machine without the converters.
    """
    plan, store, ui = ctx.plan, ctx.store, ctx.ui
    req = plan.request
    artifacts = ArtifactStore(req.artifact_dir)
    # No load-average warning: it lags (it fired on every sweep, after the export phase). Each timed window is
    # judged on its own (foreign CPU on the measured cores, canary) and re-measured or flagged `disturbed`.
    measured = disturbed = 0
    for target in plan.targets:
        exports = store.sweep_exports(req.name, target.name)
        unexported = sum(exports.get(a.spec.arch_id) is None for a in ctx.archs)
        if unexported:
            ui.note(
                f"{target.name}: {unexported} of {len(ctx.archs)} networks have no export for this target in the "
                f"store yet; they stay pending (run `--stage export` with this target first)"
            )
        if target.modelled:  # an analytical model costs the artifact: nothing is timed (pipeline.modelled)
            from hwbench.pipeline.modelled import model_target

            plan.counts["modelled"] = plan.counts.get("modelled", 0) + model_target(ctx, target, exports, artifacts)
            continue
        if target.transport == "agent":
            from hwbench.pipeline.board_pool import measure_pool

            todo, stored = measure_pool(ctx, target, exports, artifacts)
        else:
            todo = _measure_here_or_on_node(ctx, target, exports, artifacts)
            stored = len(todo)
        measured += stored
        _link_missing(ctx, target, exports)  # networks left when a board went away show as pending
        disturbed += count_disturbed(store, todo)
    plan.counts["measurements"] = measured
    if disturbed:
        ui.note(
            f"{disturbed} measurement(s) stayed disturbed after re-measuring (another process used the measured "
            "cores, or the canary drifted); they are stored with disturbed = 1 and the reason"
        )


def _link_missing(ctx: StageContext, target: Target, exports: dict[str, str | None]) -> None:
    """Give every network of the sweep a row for this target, so `hwbench show` lists unmeasured ones as pending."""
    missing = [a.spec.arch_id for a in ctx.archs if a.spec.arch_id not in exports]
    for arch_id in missing:
        ctx.store.link_run(ctx.plan.request.name, arch_id, target.name, None, None)


def _measure_here_or_on_node(
    ctx: StageContext, target: Target, exports: dict[str, str | None], artifacts: ArtifactStore
) -> list[MeasureJob]:
    """A local target on this machine, or a `ray-node` target on its Ray node with the whole node to itself."""
    if target.transport != "ray-node":
        fp, identity = target_fingerprint(target)
        todo = pending(ctx, artifacts, target, exports, fp)
        if todo:
            _measure_target(ctx, target, fp, identity, todo, LocalExecutor(), Resources())
        return todo
    from hwbench.pipeline.cluster_node import exclusive_resources, node_facts

    resources = exclusive_resources(ctx.executor, target)
    facts = node_facts(ctx.executor, target, resources)
    fp, identity = target_fingerprint(target, node=facts)
    todo = pending(ctx, artifacts, target, exports, fp)
    if todo:
        extra = {"ray_node": {"resource": target.ray_resource, "cpus": resources.cpus, **facts["executor"]}}
        _measure_target(ctx, target, fp, identity, todo, ctx.executor, resources, extra)
    return todo


def _measure_target(
    ctx: StageContext,
    target: Target,
    fp: str,
    identity: dict[str, Any],
    todo: list[MeasureJob],
    executor: Executor,
    resources: Resources,
    extra: dict[str, Any] | None = None,
) -> None:
    """Run the round jobs of one target in one worker process, strictly one at a time: on this machine (a local
    target: nothing else of the sweep runs beside it, the stages run one after another) or in one Ray actor that
    holds every CPU of the target's node (a `ray-node` target)."""
    from hwbench.pipeline.rounds import RoundDriver
    from hwbench.pipeline.stage import run_stage
    from hwbench.runners.local import measure_artifact

    block = Block(ctx.plan, ctx.store, target, fp, identity, extra)
    driver = RoundDriver(block, todo, ctx.plan.request.seed, rounds=target.measurement.rounds)

    batch = Batch(
        f"measure:{target.name}",
        measure_artifact,
        1,
        measure_timeout,
        threads=target.threads,
        resources=resources,
        followups=driver.followups,
    )
    runs = StageContext(ctx.plan, ctx.archs, ctx.store, ctx.ui, executor)
    where = f" on {target.ray_resource}" if target.transport == "ray-node" else ""
    title = f"measuring {target.name}{where} ({driver.rounds} rounds)"
    run_stage(runs, batch, driver.jobs(), title=title, total=len(todo) * driver.rounds, record=round_recorder(driver))
    driver.finish()
    if block.failed:
        ctx.ui.note(f"{target.name}: {block.failed} of {len(todo)} measurements failed; they are recorded")
