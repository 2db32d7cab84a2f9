"""Training plumbing shared by classifiers and detectors: which networks still need training, and where trainings
run (worker processes and threads on this machine, or one job per CPU or GPU on a cluster)."""

from __future__ import annotations

import os
from collections.abc import Callable

from hwbench.pipeline.executor import Resources
from hwbench.pipeline.request import SweepArch, SweepRequest
from hwbench.pipeline.stage import StageContext
from hwbench.pipeline.training_plan import training_device, weights_path


def local_workers(req: SweepRequest, jobs: int) -> tuple[int, int, str]:
    """(worker processes, threads each, device): one worker per core on CPU; one on CUDA (the first GPU)."""
    cores = os.cpu_count() or 1
    device = training_device(req)
    default = 1 if device == "cuda" else cores
    workers = max(1, min(req.train_workers or default, jobs))
    return workers, max(1, cores // workers), device


def placement(ctx: StageContext, jobs: int) -> tuple[int, int, str, Resources]:
    """(workers, threads each, device, resources per job) for `jobs` trainings on the sweep's executor."""
    req = ctx.plan.request
    if ctx.executor.name == "local":
        workers, threads, device = local_workers(req, jobs)
        return workers, threads, device, Resources(cpus=threads)
    # On a cluster each network trains where Ray places it: one GPU each when the cluster has GPUs (and
    # training may use them), else one CPU each; the device is picked on the worker's own machine.
    gpus = 1.0 if req.train_device != "cpu" and ctx.executor.describe().get("gpus") else 0.0
    return req.train_workers or jobs, 1, req.train_device, Resources(cpus=1, gpus=gpus)


def pending_trainings(
    ctx: StageContext, key_of: Callable[[SweepArch], str], needs_weights: bool
) -> list[tuple[str, SweepArch]]:
    """(accuracy key, network) of what to train: no record yet, a failure with --retry-errors, or (when later work
    needs them) an ok record whose weights file is gone. The rest is linked to the sweep as it stands."""
    req, store = ctx.plan.request, ctx.store
    todo = []
    for arch in ctx.archs:
        key = key_of(arch)
        row = store.get_accuracy(key)
        missing = needs_weights and row is not None and row["status"] == "ok" and not weights_path(req, key).is_file()
        if row is None or (row["status"] != "ok" and req.retry_errors) or missing:
            todo.append((key, arch))
        else:
            store.link_accuracy(req.name, arch.spec.arch_id, key)
    ctx.plan.counts["trained"] = len(todo)
    return todo
