"""Run a sweep: every stage in order, or one stage alone resuming from what the store holds."""

from __future__ import annotations

from hwbench.pipeline.plan import Plan, plan_sweep
from hwbench.pipeline.request import SweepArch, SweepRequest
from hwbench.pipeline.sample import draw_samples, record_samples, stored_samples, targets_of
from hwbench.progress import NullProgress, Progress
from hwbench.store import Store


def run_sweep(request: SweepRequest, progress: Progress | None = None) -> dict[str, int]:
    """Sample → export → measure → train → report (or the one `request.stage`). Re-running resumes.

    Validation and sampling (which can fail on an infeasible constraint) finish before the store is opened, so
    bad input never leaves a trace there. Training runs after measuring (never beside it): latency results are
    complete before the longest stage starts, and an interrupted training keeps every measurement.
    """
    from hwbench.pipeline.executors import make_executor
    from hwbench.pipeline.export import export_stage
    from hwbench.pipeline.measure import measure_stage
    from hwbench.pipeline.stage import StageContext
    from hwbench.pipeline.train import training_stage

    ui = progress or NullProgress()
    plan = plan_sweep(request)
    drawn = draw_samples(plan, ui) if plan.spaces else None
    # A stage run alone from the store needs one: it is not created empty by mistake.
    store = Store(request.store, create=drawn is not None)
    executor = None
    try:
        archs = _networks(plan, drawn, store)
        executor = make_executor(request.executor, request.ray_address)
        ctx = StageContext(plan, archs, store, ui, executor)
        if plan.runs("export"):
            export_stage(ctx)
        if plan.runs("measure"):
            measure_stage(ctx)
        if plan.runs("train"):
            training_stage(ctx)
        if request.report and request.stage != "export":
            from hwbench.report import write_report

            path = write_report(store, [request.name], request.output_dir)
            ui.note(f"report: {path}")
    finally:
        if executor is not None:
            executor.close()
        store.close()
    return plan.counts


def _networks(plan: Plan, drawn: list[SweepArch] | None, store: Store) -> list[SweepArch]:
    """The sweep's networks: sampled now and recorded (refusing a changed space), or read from the store."""
    if drawn is not None:
        record_samples(plan, drawn, store)
        return drawn
    archs = stored_samples(plan, store)
    targets_of(plan, store)
    plan.counts["archs"] = len(archs)
    return archs
