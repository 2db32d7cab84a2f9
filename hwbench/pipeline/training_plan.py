"""The validated dataset and schedule of a sweep, and the keys and files of what training makes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.accuracy.datasets import DatasetInfo, DatasetRef, inspect_dataset, parse_dataset
from hwbench.accuracy.schedule import Schedule, load_schedule
from hwbench.config.target import Target
from hwbench.errors import ConfigError
from hwbench.pipeline.executors import choose
from hwbench.pipeline.request import SweepArch, SweepRequest
from hwbench.space.archspec import ArchSpec
from hwbench.space.design_space import DesignSpace

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
        if space.family in ("det", "det_vit"):
            raise ConfigError(
                space.source, None, f"{space.name} is a detector space; dataset {ref} is a classification dataset"
            )
        classes, _ = _space_shape(space)
        if classes != info.num_classes:
            raise ConfigError(
                space.source,
                "num_classes",
                f"the networks have {classes} outputs but dataset {ref} has {info.num_classes} classes",
            )
    check_batch(schedule, info.train_size, str(ref))
    seed = schedule.spec.seed if request.train_seed is None else request.train_seed
    plan = TrainingPlan(ref, info, schedule, dataset_id(ref, info), seed)
    if choose(request.executor, request.ray_address) == "local":
        training_device(request)  # on a cluster the GPU is on a worker node, not necessarily here
    # One draw per space catches a resolution too small for the macro's strides before anything is stored;
    # the training stage checks every sampled network again.
    check_resolution([SweepArch(s.name, 0, s.draw(np.random.default_rng(0))) for s in spaces], plan)
    return plan


def check_batch(schedule: Schedule, train_size: int, dataset: str) -> None:
    """A batch larger than the training split is known to fail: say so before anything is stored.

    The split is at most this large (a holdout or subset only shrinks it); the exact size is checked again when
    the data is prepared.
    """
    most = min(train_size, schedule.spec.train_images or train_size)
    if schedule.spec.batch_size > most:
        raise ConfigError(
            schedule.source,
            "batch_size",
            f"{schedule.spec.batch_size} is more than the {most} training images of {dataset}",
        )


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


def training_device(req: SweepRequest) -> str:
    """cuda when present (auto) or asked for, else cpu; asking for an absent CUDA is an input error."""
    import torch

    cuda = req.train_device != "cpu" and torch.cuda.is_available()
    if req.train_device == "cuda" and not cuda:
        raise ConfigError(None, "--train-device", "cuda was asked for but no CUDA device is available")
    return "cuda" if cuda else "cpu"
