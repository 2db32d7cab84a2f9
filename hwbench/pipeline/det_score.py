"""The images a trained detector is timed on, and the mAP of its exported artifact scored from what the runner found.

The images are the test images its PyTorch mAP was scored on (the same seeded subset when the schedule limits
`val_images`), written once per (split, resolution) as a raw uint8 `.npy`, named by its content in the artifact
folder: every place that times a detector (this machine, a Ray node, a board) reads that one file.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.accuracy.detection.data import DetectionSplit
from hwbench.pipeline.det_plan import DetTrainingPlan

IMAGES_EXTENSION = ".npy"


@dataclass(frozen=True, eq=False)
class TimingImages:
    """One resolution's scored split and its images file (path, sha256), with the normalisation of training."""

    split: DetectionSplit
    path: str
    sha256: str
    mean: list[float]
    std: list[float]


def scored_subset(tp: DetTrainingPlan) -> dict[str, Any]:
    """Which test images training scored (all, or a seeded subset): part of the timing key."""
    return {"val_images": tp.schedule.math().get("val_images"), "seed": tp.seed + 1}


def scored_split(tp: DetTrainingPlan, resolution: int) -> tuple[DetectionSplit, dict[str, Any]]:
    """The test split at `resolution` exactly as the trainer scored it, and the prepared data's facts."""
    from hwbench.accuracy.detection.trainer import subset_indices

    data = tp.data(resolution)
    split = DetectionSplit.load(data["test"])
    subset = scored_subset(tp)
    idx = subset_indices(len(split), subset["val_images"], subset["seed"])
    return (split if idx is None else split.subset(idx)), data


def timing_images(tp: DetTrainingPlan, resolution: int, artifact_dir: str | Path) -> TimingImages:
    """The scored split and its images file in the artifact folder (written if absent; content-addressed)."""
    from hwbench.export.artifacts import ArtifactStore

    split, data = scored_split(tp, resolution)
    fd, tmp = tempfile.mkstemp(suffix=IMAGES_EXTENSION, dir=artifact_dir)
    with os.fdopen(fd, "wb") as f:
        np.save(f, np.ascontiguousarray(split.images, dtype=np.uint8), allow_pickle=False)
    digest, path = ArtifactStore(artifact_dir).put(tmp, IMAGES_EXTENSION)
    return TimingImages(split, str(path), digest, list(data["mean"]), list(data["std"]))


def score_artifact(images: TimingImages, result: dict[str, Any]) -> dict[str, Any]:
    """The artifact's own mAP from a timing result's packed detections: artifact_map, _map50, _images, the
    bootstrap interval over images, and where the detections came from; an error message if they are unusable."""
    from hwbench.accuracy.detection.cocoeval import evaluate_detections
    from hwbench.postprocess.packed import PackError, unpack_detections

    packed = result.get("detections")
    if packed is None:
        return {}
    split = images.split
    try:
        detections = unpack_detections(packed, len(split))
        for _, _, labels in detections:
            if len(labels) and not (labels.min() >= 0 and labels.max() < split.num_classes):
                raise PackError(f"packed detections: a label outside 0..{split.num_classes - 1}")
    except PackError as exc:
        return {"artifact_map_error": str(exc)}
    try:
        metrics = evaluate_detections(split, detections)
        low, high = map_interval(split, detections)
    except Exception as exc:  # the timing stands without its mAP; the record says why
        return {"artifact_map_error": f"scoring failed: {type(exc).__name__}: {exc}"[:500]}
    return {
        "artifact_map": metrics["map"],
        "artifact_map50": metrics["map50"],
        "artifact_images": len(split),
        "artifact_map_ci_low": low,
        "artifact_map_ci_high": high,
        "artifact_detections": result.get("detections_source"),
    }


def map_interval(split: DetectionSplit, detections: list[Any]) -> tuple[float | None, float | None]:
    """95% bootstrap interval of mAP over the scored images (as training's); None, None where there is no object."""
    from hwbench.accuracy.detection.bootstrap import map_interval as bootstrap

    low, high = bootstrap(split, detections, confidence=0.95, seed=0)
    return (None, None) if math.isnan(low) or math.isnan(high) else (float(low), float(high))
