"""Stage 4: train every sampled network on the sweep's dataset and schedule, in worker processes.

Runs after the measurement stage, so nothing is timed while training loads the cores. Keyed by
(arch, dataset content, schedule hash, seed, trainer version): a re-run trains only what the store lacks;
failures (a crash, out of memory, a timeout, divergence) are records, retried with --retry-errors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.accuracy.datasets import DatasetInfo, DatasetRef, inspect_dataset, parse_dataset
from hwbench.accuracy.schedule import Schedule, load_schedule
from hwbench.config.target import Target
from hwbench.errors import ConfigError
from hwbench.pipeline.executor import Batch, Resources, choose
from hwbench.pipeline.jobs import TrainJob
from hwbench.pipeline.plan import SweepRequest
from hwbench.pipeline.sample import SweepArch
from hwbench.pipeline.stage import StageContext, executed_on, run_stage, scratch
from hwbench.space.archspec import ArchSpec
from hwbench.space.design_space import DesignSpace
from hwbench.store.columns import TRAINING_COLUMNS

DEVICES = ("auto", "cpu", "cuda")
EVAL_MODES = ("auto", "all", "none")


@dataclass
class TrainingPlan:
    """The validated dataset and schedule of a sweep, and its prepared data (made on first use)."""

    ref: DatasetRef
    info: DatasetInfo
    schedule: Schedule
    dataset_id: str
    seed: int
    prepared: dict[int, Any] = field(default_factory=dict)  # channels → PreparedData
    workdir: Path | None = None

    def data(self, channels: int) -> Any:
        """The dataset prepared for networks taking `channels` input channels (prepared once)."""
        from hwbench.accuracy.prepare import prepare

        if channels not in self.prepared:
            assert self.workdir is not None
            self.prepared[channels] = prepare(
                self.ref, self.schedule, channels, self.workdir / f"c{channels}", self.info
            )
        return self.prepared[channels]


def _space_shape(space: DesignSpace) -> tuple[int, int]:
    """(num_classes, in_channels) of a space's networks."""
    source = space.fixed.arch if space.fixed is not None else space.macro
    return int(source.num_classes), int(getattr(source, "in_channels", 3))  # type: ignore[union-attr]


def plan_training(request: SweepRequest, spaces: list[DesignSpace], targets: list[Target]) -> TrainingPlan:
    """Validate dataset, schedule and options before anything is stored: every bad input is one clear line."""
    from hwbench.accuracy.prepare import dataset_id

    if request.train_device not in DEVICES:
        raise ConfigError(None, "--train-device", f"expected one of {', '.join(DEVICES)}, got {request.train_device!r}")
    if request.eval_artifacts not in EVAL_MODES:
        raise ConfigError(
            None, "--eval-artifacts", f"expected one of {', '.join(EVAL_MODES)}, got {request.eval_artifacts!r}"
        )
    ref = parse_dataset(request.dataset or "")
    schedule = load_schedule(request.schedule)
    info = inspect_dataset(ref, download=request.download)
    for space in spaces:
        classes, _ = _space_shape(space)
        if classes != info.num_classes:
            raise ConfigError(
                space.source,
                "num_classes",
                f"the networks have {classes} outputs but dataset {ref} has {info.num_classes} classes",
            )
    # The training split is at most this large (a holdout or subset only shrinks it): a batch larger than that is
    # known to fail now, before anything is stored (the exact split size is checked again when data is prepared).
    most = min(info.train_size, schedule.spec.train_images or info.train_size)
    if schedule.spec.batch_size > most:
        raise ConfigError(
            schedule.source,
            "batch_size",
            f"{schedule.spec.batch_size} is more than the {most} training images of {ref}",
        )
    seed = schedule.spec.seed if request.train_seed is None else request.train_seed
    plan = TrainingPlan(ref, info, schedule, dataset_id(ref, info), seed)
    if choose(request.executor, request.ray_address) == "local":
        _device(request)  # on a cluster the GPU is on a worker node, not necessarily here
    # One draw per space catches a resolution too small for the macro's strides before anything is stored;
    # the training stage checks every sampled network again.
    check_resolution([SweepArch(s.name, 0, s.draw(np.random.default_rng(0))) for s in spaces], plan)
    return plan


def train_key(arch: ArchSpec, tp: TrainingPlan) -> str:
    """The accuracy key of a network trained under the sweep's dataset, schedule and seed."""
    from hwbench.accuracy.trainer import TRAINER_VERSION
    from hwbench.blocks import get_block
    from hwbench.store.keys import accuracy_key

    return accuracy_key(
        arch.arch_id, get_block(arch.block).version, tp.dataset_id, tp.schedule.hash, tp.seed, TRAINER_VERSION
    )


def at_resolution(spec: ArchSpec, resolution: int) -> ArchSpec:
    """The same network (same weights) fed `resolution` pixels: global pooling makes the CNNs resolution-agnostic."""
    return ArchSpec(spec.arch.model_copy(update={"resolution": resolution}))


def check_resolution(archs: list[SweepArch], tp: TrainingPlan) -> None:
    """Every network must accept the schedule's resolution (shape-only forward on the meta device)."""
    import torch

    from hwbench.models import build_model

    resolution = tp.schedule.spec.resolution
    for arch in archs:
        x = torch.empty(2, arch.spec.arch.in_channels, resolution, resolution, device="meta")  # type: ignore[attr-defined]
        try:
            # The network actually trained: at the schedule's resolution (a ViT's positions and tokens follow it).
            build_model(at_resolution(arch.spec, resolution), seed=0, device="meta")(x)
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(
                tp.schedule.source,
                "resolution",
                f"{resolution} px is too small for network {arch.spec.arch_id} of {arch.space} "
                f"({str(exc).splitlines()[0]}); use a larger resolution",
            ) from None


def weights_path(req: SweepRequest, key: str) -> Path:
    """Where the trained state_dict of an accuracy key lives."""
    path = req.weights_dir / f"{key}.pt"
    before = req.store.parent / "weights" / f"{key}.pt"  # where stores made before 2026-12 keep them
    return before if not path.is_file() and before.is_file() else path


def training_stage(ctx: StageContext) -> None:
    """Train what the store lacks, then evaluate artifacts of the targets that ask for it."""
    plan, store = ctx.plan, ctx.store
    tp = plan.training
    if tp is None:
        return
    from hwbench.pipeline.evaluate import artifact_stage, wants_artifacts

    req = plan.request
    needs_weights = wants_artifacts(plan)
    todo = []
    for arch in ctx.archs:
        key = train_key(arch.spec, tp)
        row = store.get_accuracy(key)
        missing_weights = (
            needs_weights and row is not None and row["status"] == "ok" and not weights_path(req, key).is_file()
        )
        if row is None or (row["status"] != "ok" and req.retry_errors) or missing_weights:
            todo.append((key, arch))
        else:
            store.link_accuracy(req.name, arch.spec.arch_id, key)
    plan.counts["trained"] = len(todo)
    with scratch(ctx, "hwbench-data-") as workdir:
        tp.workdir = workdir
        try:
            if todo:
                check_resolution([a for _, a in todo], tp)
                _train(ctx, tp, todo)
            artifact_stage(ctx)
        finally:
            tp.prepared.clear()
            tp.workdir = None


def _device(req: SweepRequest) -> str:
    """cuda when present (auto) or asked for, else cpu; asking for an absent CUDA is an input error."""
    import torch

    cuda = req.train_device != "cpu" and torch.cuda.is_available()
    if req.train_device == "cuda" and not cuda:
        raise ConfigError(None, "--train-device", "cuda was asked for but no CUDA device is available")
    return "cuda" if cuda else "cpu"


def _workers(req: SweepRequest, jobs: int) -> tuple[int, int, str]:
    """(worker processes, threads each, device): one worker per core on CPU; one on CUDA (the first GPU)."""
    cores = os.cpu_count() or 1
    device = _device(req)
    default = 1 if device == "cuda" else cores
    workers = max(1, min(req.train_workers or default, jobs))
    return workers, max(1, cores // workers), device


def _train(ctx: StageContext, tp: TrainingPlan, todo: list[tuple[str, SweepArch]]) -> None:
    from hwbench.accuracy.trainer import train_job
    from hwbench.measure.provenance import git_commit, machine_info, versions

    req = ctx.plan.request
    if ctx.executor.name == "local":
        workers, threads, device = _workers(req, len(todo))
        resources = Resources(cpus=threads)
    else:
        # On a cluster each network trains where Ray places it: one GPU each when the cluster has GPUs (and
        # training may use them), else one CPU each; the device is picked on the worker's own machine.
        gpus = 1.0 if req.train_device != "cpu" and ctx.executor.describe().get("gpus") else 0.0
        workers, threads, device = req.train_workers or len(todo), 1, req.train_device
        resources = Resources(cpus=1, gpus=gpus)
    jobs: dict[str, TrainJob] = {}
    for key, arch in todo:
        data = tp.data(int(arch.spec.arch.in_channels))  # type: ignore[attr-defined]
        jobs[key] = TrainJob(
            spec_json=at_resolution(arch.spec, tp.schedule.spec.resolution).canonical_json,
            schedule={**tp.schedule.math(), "seed": tp.seed},
            data=data.as_job(),
            weights_path=str(weights_path(req, key)),
            threads=threads,
            device=device,
        )
    archs = dict(todo)
    provenance = {"machine": machine_info(), "versions": versions(("torch", "numpy")), "commit": git_commit()}

    def record(key: str, result: dict[str, Any]) -> int:
        arch = archs[key]
        row = _record(key, arch, tp, jobs[key], result, req)
        ctx.store.put_accuracy(row, {**provenance, **executed_on(result)}, [(req.name, arch.spec.arch_id)])
        return 1

    batch = Batch("train", train_job, workers, req.train_timeout, threads, resources)
    title = f"training ({workers} workers × {threads} threads, {device})"
    wired = [(key, job.wire()) for key, job in jobs.items()]
    failed = run_stage(ctx, batch, wired, title=title, total=len(jobs), record=record)
    if failed:
        ctx.ui.note(
            f"{failed} of {len(jobs)} trainings failed; they are recorded (`hwbench show {req.name} --accuracy`)"
        )


def _record(
    key: str, arch: SweepArch, tp: TrainingPlan, job: TrainJob, result: dict[str, Any], req: SweepRequest
) -> dict[str, Any]:
    """The accuracies row of one training result (ok or error)."""
    info = dict(result.get("info") or {})
    error = result.get("error")
    if error and "exit code -9" in error:
        error += " (killed by the system: out of memory?)"
    weights = info.get("weights")
    if weights:  # stored relative to the store, so a results folder can move
        info["weights"] = {**weights, "path": os.path.relpath(weights["path"], req.store.parent)}
    data = job.data
    return {
        "acc_key": key,
        "arch_id": arch.spec.arch_id,
        "dataset": tp.ref.name,
        "dataset_id": tp.dataset_id,
        "schedule": tp.schedule.name,
        "schedule_hash": tp.schedule.hash,
        "evaluated_on": "torch",
        "source": "trained",
        **{k: result.get(k) for k in TRAINING_COLUMNS},
        "status": result["status"],
        "error": error,
        "curve_json": result.get("curve") or [],
        "info_json": {
            **info,
            "seed": tp.seed,
            "dataset_arg": str(tp.ref),
            "resolution": data["resolution"],
            "space_resolution": arch.spec.arch.resolution,  # type: ignore[attr-defined]
            # A ViT's token count follows the resolution: the trained network saw fewer tokens than the timed one.
            **_token_counts(arch.spec, int(data["resolution"])),
            "normalisation": {"mean": data["mean"], "std": data["std"]},
            "hflip": data["hflip"],
            "schedule": job.schedule,
        },
    }


def _token_counts(spec: ArchSpec, resolution: int) -> dict[str, int]:
    """{"tokens": trained, "space_tokens": timed} for a ViT (patch tokens + class token); {} for a CNN."""
    if spec.family != "vit":
        return {}
    return {"tokens": at_resolution(spec, resolution).arch.num_tokens, "space_tokens": spec.arch.num_tokens}  # type: ignore[attr-defined]
