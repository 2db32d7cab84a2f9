"""Training schedules as data files: epochs, batch, optimizer, warm-up + cosine, augmentation, resolution.

A schedule's hash (every field that changes the math, not its name or description) is part of each accuracy
key, so editing a schedule retrains, and renaming one does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from hwbench.config.loading import Strict, load_yaml, parse_model
from hwbench.errors import ConfigError
from hwbench.store.keys import digest

SCHEDULE_DIR = Path(__file__).resolve().parent / "schedules"


class OptimizerSpec(Strict):
    """SGD (momentum, Nesterov) or AdamW; weight decay skips norms and biases unless told otherwise."""

    name: Literal["sgd", "adamw"] = "sgd"
    lr: float = Field(0.1, gt=0, le=10)
    momentum: float = Field(0.9, ge=0, lt=1)
    nesterov: bool = True
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(5e-5, ge=0, lt=1)
    decay_norm_and_bias: bool = False


class LRSchedule(Strict):
    """Linear warm-up from `warmup_start` × lr, then cosine (or constant) down to `final` × lr, per step."""

    name: Literal["cosine", "constant"] = "cosine"
    warmup_epochs: float = Field(1.0, ge=0)
    warmup_start: float = Field(0.1, gt=0, le=1)
    final: float = Field(0.0, ge=0, le=1)


class Augment(Strict):
    """Light augmentation: random crop after zero padding, horizontal flip (auto: where the dataset allows)."""

    crop_padding: int = Field(0, ge=0, le=64)
    hflip: Literal["auto"] | bool = "auto"


class ScheduleFile(Strict):
    """The YAML schema of a schedule."""

    name: str | None = None
    description: str = ""
    epochs: int = Field(ge=1, le=10_000)
    batch_size: int = Field(ge=1, le=65_536)
    # Training and evaluation resolution; the space's resolution is what latency is measured at.
    resolution: int = Field(ge=8, le=1024)
    optimizer: OptimizerSpec = OptimizerSpec()
    lr_schedule: LRSchedule = LRSchedule()
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    augment: Augment = Augment()
    normalize: Literal["dataset", "imagenet", "none"] = "dataset"
    # Used only for datasets without an official test split: a seeded, stratified holdout of this fraction.
    val_fraction: float = Field(0.2, gt=0, lt=1)
    # Optional seeded, stratified subsets (null: all images) to keep a sweep short on a big dataset.
    train_images: int | None = Field(None, ge=1)
    val_images: int | None = Field(None, ge=1)
    eval_batch_size: int = Field(256, ge=1)
    eval_every: int = Field(1, ge=1)
    seed: int = 0


@dataclass(frozen=True)
class Schedule:
    """A validated schedule and where it came from."""

    name: str
    source: Path
    spec: ScheduleFile

    @property
    def hash(self) -> str:
        """Hash of everything that changes training but the seed (keyed on its own), name and description."""
        return digest({k: v for k, v in self.math().items() if k != "seed"})

    def math(self) -> dict[str, Any]:
        """The fields that define training, as plain data (what workers receive)."""
        return self.spec.model_dump(mode="json", exclude={"name", "description"})


def schedule_names() -> list[str]:
    """The built-in schedules."""
    return sorted(p.stem for p in SCHEDULE_DIR.glob("*.yaml"))


def resolve_schedule(value: str | Path) -> Path:
    """A schedule file path, or a built-in name (`short`) looked up in hwbench/accuracy/schedules/."""
    path = Path(value)
    if path.is_file():
        return path
    candidate = SCHEDULE_DIR / f"{value}.yaml"
    if candidate.is_file():
        return candidate
    from hwbench.registry import unknown_name_message

    raise ConfigError(
        str(value), "--schedule", "no such file; " + unknown_name_message("schedule", str(value), schedule_names())
    )


def load_schedule(value: str | Path) -> Schedule:
    """Load and validate a schedule by name or path."""
    path = resolve_schedule(value)
    spec = parse_model(ScheduleFile, load_yaml(path), path)
    if spec.lr_schedule.warmup_epochs > spec.epochs:
        raise ConfigError(
            path, "lr_schedule.warmup_epochs", f"{spec.lr_schedule.warmup_epochs:g} exceeds epochs {spec.epochs}"
        )
    return Schedule(spec.name or path.stem, path, spec)
