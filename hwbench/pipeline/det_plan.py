"""The detection side of a sweep's training plan: a detection dataset, a schedule at the detectors' input size,
and the prepared splits (.npz) workers train and evaluate on. Chosen when the dataset is a detection dataset."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.accuracy.detection.data import (
    DetectionInfo,
    DetectionRef,
    inspect_detection_dataset,
    is_detection_dataset,
    parse_detection_dataset,
)
from hwbench.accuracy.schedule import Schedule, load_schedule
from hwbench.errors import ConfigError
from hwbench.postprocess.nms import NmsSettings
from hwbench.space.design_space import DesignSpace
from hwbench.space.det_vit import DETECTOR_FAMILIES
from hwbench.store.keys import digest

# What `--dataset auto` / `--schedule auto` (the command line's defaults) mean for each task.
AUTO = "auto"
DEFAULTS = {"classification": ("digits", "demo"), "detection": ("digits-det", "det_demo")}


def task_of(spaces: list[DesignSpace], dataset: str | None, stored: str | None = None) -> str:
    """detection when the dataset is a detection dataset (or, for `auto`, when every space is a detector space,
    or, with no space given, when the store says the sweep's networks are detectors: `stored`)."""
    if dataset not in (None, AUTO):
        return "detection" if is_detection_dataset(dataset) else "classification"
    if not spaces and stored is not None:
        return stored
    return "detection" if spaces and all(s.family in DETECTOR_FAMILIES for s in spaces) else "classification"


def stored_task(store: Path, sweep: str) -> str | None:
    """The task of a sweep's stored networks (read-only; None without a store or that sweep): a later stage run
    alone has no spaces to tell it, and a detector is a network with boxes."""
    import sqlite3

    if not store.is_file():
        return None
    # Read-only: planning must never create or migrate a store (bad input leaves no trace).
    db = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT COUNT(*), COUNT(a.boxes) FROM sweep_archs sa JOIN archs a ON a.arch_id = sa.arch_id "
            "WHERE sa.sweep=?",
            (sweep,),
        ).fetchall()
    except sqlite3.DatabaseError:  # not a store, or one from before detection: the stage itself says what is wrong
        return None
    finally:
        db.close()
    total, detectors = rows[0]
    if not total:
        return None
    return "detection" if detectors == total else "classification"


def resolve_auto(
    spaces: list[DesignSpace], dataset: str | None, schedule: str | Path, stored: str | None = None
) -> tuple[str | None, str | Path]:
    """The dataset and schedule `auto` stands for: the built-in dataset and demo schedule of the sweep's task."""
    task = task_of(spaces, dataset, stored)
    default_dataset, default_schedule = DEFAULTS[task]
    return (default_dataset if dataset == AUTO else dataset), (default_schedule if schedule == AUTO else schedule)


@dataclass
class DetTrainingPlan:
    """A detection sweep's dataset and schedule, and its splits prepared once per input size."""

    ref: DetectionRef
    info: DetectionInfo
    schedule: Schedule
    dataset_id: str
    seed: int
    nms: NmsSettings  # the post-processing mAP is evaluated with (COCO practice: low threshold, 100 detections)
    prepared: dict[int, dict[str, Any]] = field(default_factory=dict)
    workdir: Path | None = None
    task: str = "detection"
    given: dict[str, str] = field(default_factory=dict)  # arch_id → accuracy key of weights not trained here

    def data(self, resolution: int) -> dict[str, Any]:
        """Train/test splits at `resolution` px as .npz files, with the training split's channel mean/std."""
        if resolution not in self.prepared:
            assert self.workdir is not None
            data = self.ref.definition.load(self.ref.path, resolution)
            folder = self.workdir / f"det{resolution}"
            folder.mkdir(parents=True, exist_ok=True)
            data.train.save(folder / "train.npz")
            data.test.save(folder / "test.npz")
            pixels = data.train.images.reshape(-1, data.train.images.shape[-1]).astype(np.float64) / 255.0
            self.prepared[resolution] = {
                "train": str(folder / "train.npz"),
                "test": str(folder / "test.npz"),
                "mean": [float(v) for v in pixels.mean(0)],
                "std": [float(v) for v in pixels.std(0)],
                "resolution": resolution,
                "train_images": len(data.train),
                "test_images": len(data.test),
            }
        return self.prepared[resolution]


def calibration_images(ref: DetectionRef, n: int, resolution: int, seed: int = 0) -> np.ndarray:
    """n training images of a detection dataset at `resolution`, float32 N×C×H×W, normalised with the training
    split's channel statistics (as the detectors are fed); a seeded pick, never from the test split."""
    train = ref.definition.load(ref.path, resolution).train
    pixels = train.images.reshape(-1, train.images.shape[-1]).astype(np.float64) / 255.0
    mean = pixels.mean(0).astype(np.float32)[:, None, None]
    std = pixels.std(0).astype(np.float32)[:, None, None]
    pick = np.sort(np.random.default_rng(seed).permutation(len(train))[: min(n, len(train))])
    return ((train.images[pick].transpose(0, 3, 1, 2).astype(np.float32) / 255.0) - mean) / std


def plan_detection(
    dataset: str, schedule_arg: str | Path, seed: int | None, spaces: list[DesignSpace]
) -> DetTrainingPlan:
    """Validate a detection sweep's dataset, schedule and spaces before anything is stored."""
    from hwbench.pipeline.training_plan import check_batch

    ref = parse_detection_dataset(dataset)
    info = inspect_detection_dataset(ref)
    schedule = load_schedule(schedule_arg)
    for space in spaces:
        if space.family not in DETECTOR_FAMILIES:
            raise ConfigError(
                space.source, None, f"{space.name} is a classification space; dataset {ref} is a detection dataset"
            )
        classes = int(space.macro.num_classes) if space.macro is not None else int(space.fixed.arch.num_classes)  # type: ignore[union-attr]
        if classes != info.num_classes:
            raise ConfigError(
                space.source,
                "num_classes",
                f"the detectors have {classes} classes but dataset {ref} has {info.num_classes}",
            )
        arch = space.draw(np.random.default_rng(0)).arch  # one draw: the input size the macro gives
        if int(arch.resolution) != schedule.spec.resolution:  # type: ignore[attr-defined]
            raise ConfigError(
                schedule.source,
                "resolution",
                f"{schedule.spec.resolution} px, but the detectors of {space.name} take "
                f"{arch.resolution} px (anchors are in input pixels): use a schedule at that size, e.g. det_demo",  # type: ignore[attr-defined]
            )
    check_batch(schedule, info.train_size, str(ref))
    dataset_id = digest({"dataset": ref.name, "loader_version": ref.definition.version, "content": info.fingerprint})
    return DetTrainingPlan(ref, info, schedule, dataset_id, schedule.spec.seed if seed is None else seed, NmsSettings())


def train_key(arch: Any, tp: DetTrainingPlan) -> str:
    """The accuracy key of one of the sweep's detectors (a SweepArch) under its dataset, schedule and seed, or the
    key of the record its weights were given by (a pruned detector's surgery)."""
    if arch.spec.arch_id in tp.given:
        return tp.given[arch.spec.arch_id]
    from hwbench.accuracy.detection.trainer import DET_TRAINER_VERSION
    from hwbench.blocks import get_block
    from hwbench.store.keys import accuracy_key

    version = get_block(arch.spec.block).version
    return accuracy_key(arch.spec.arch_id, version, tp.dataset_id, tp.schedule.hash, tp.seed, DET_TRAINER_VERSION)
