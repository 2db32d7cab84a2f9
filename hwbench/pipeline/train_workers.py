"""Where trainings run: worker processes and threads on this machine, or one job per CPU or GPU on a cluster."""

from __future__ import annotations

import os

from hwbench.pipeline.executor import Resources
from hwbench.pipeline.request import SweepRequest
from hwbench.pipeline.stage import StageContext
from hwbench.pipeline.training_plan import training_device


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
