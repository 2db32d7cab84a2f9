"""Turn a dataset into the arrays a schedule trains on: fixed train/val split, subsets, channels, resolution.

Runs once per stage in the sweep's main process; workers read the resulting .npy files. The validation split
is the dataset's official test split where it has one, else a stratified holdout drawn with a fixed seed, so
every schedule and seed is scored on the same images.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.accuracy.datasets import DatasetInfo, DatasetRef, RawData, inspect_dataset
from hwbench.accuracy.schedule import Schedule
from hwbench.errors import ConfigError
from hwbench.store.keys import digest

SPLIT_SEED = 0  # the holdout never depends on the training seed
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PreparedData:
    """Where the prepared splits are and how to normalise them (plain data: it travels to workers)."""

    dataset: str
    dataset_id: str
    classes: tuple[str, ...]
    channels: int
    resolution: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    hflip: bool
    files: dict[str, str]
    sizes: dict[str, int]

    def as_job(self) -> dict[str, Any]:
        """A picklable dict for worker jobs."""
        return asdict(self)


def dataset_id(ref: DatasetRef, info: DatasetInfo) -> str:
    """The dataset's identity in accuracy keys: loader name and version and the files' content."""
    return digest({"dataset": ref.name, "loader_version": ref.definition.version, "content": info.fingerprint})


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded order of indices in which every prefix holds the classes in proportion."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(labels))
    quantile = np.empty(len(labels))
    for c in np.unique(labels):
        members = perm[labels[perm] == c]
        quantile[members] = (np.arange(len(members)) + 0.5) / len(members)
    return perm[np.argsort(quantile[perm], kind="stable")]


def holdout(labels: np.ndarray, fraction: float, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, val indices): a stratified `fraction` of each class is held out."""
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        val.append(members[: round(fraction * len(members))])
    val_idx = np.sort(np.concatenate(val)) if val else np.array([], dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(len(labels)), val_idx)
    return train_idx, val_idx


def convert_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Grayscale → N channels by repetition; RGB → grayscale by luminance."""
    have = x.shape[-1]
    if have == channels:
        return x
    if have == 1:
        return np.repeat(x, channels, axis=-1)
    if have == 3 and channels == 1:
        gray = x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return np.clip(np.rint(gray), 0, 255).astype(np.uint8)[..., None]
    raise ConfigError(None, "--dataset", f"images have {have} channels and the networks take {channels}")


def resize(x: np.ndarray, size: int, chunk: int = 2048) -> np.ndarray:
    """uint8 N×H×W×C → N×size×size×C (bilinear, antialiased when shrinking), in chunks to bound memory."""
    if x.shape[1:3] == (size, size):
        return x
    import torch
    import torch.nn.functional as F

    out = np.empty((len(x), size, size, x.shape[-1]), dtype=np.uint8)
    shrink = min(x.shape[1:3]) > size
    for i in range(0, len(x), chunk):
        t = torch.from_numpy(np.ascontiguousarray(x[i : i + chunk])).permute(0, 3, 1, 2).float()
        t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
        out[i : i + chunk] = t.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out


def normalisation(x: np.ndarray, how: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std on the 0..1 scale: from the training images, ImageNet's, or none."""
    channels = x.shape[-1]
    if how == "none":
        return (0.0,) * channels, (1.0,) * channels
    if how == "imagenet":
        if channels == 3:
            return IMAGENET_MEAN, IMAGENET_STD
        return (float(np.mean(IMAGENET_MEAN)),) * channels, (float(np.mean(IMAGENET_STD)),) * channels
    total = np.zeros(channels)
    square = np.zeros(channels)
    for i in range(0, len(x), 4096):
        part = x[i : i + 4096].reshape(-1, channels).astype(np.float64) / 255.0
        total += part.sum(0)
        square += (part**2).sum(0)
    count = len(x) * x.shape[1] * x.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(square / count - mean**2, 1e-12))
    return tuple(float(m) for m in mean), tuple(float(max(s, 1e-3)) for s in std)


def split(raw: RawData, schedule: Schedule) -> dict[str, np.ndarray]:
    """Train and val arrays: the official test split or a holdout, then the schedule's subsets."""
    spec = schedule.spec
    if raw.test_x is not None and raw.test_y is not None:
        parts = {"train_x": raw.train_x, "train_y": raw.train_y, "val_x": raw.test_x, "val_y": raw.test_y}
    else:
        train_idx, val_idx = holdout(raw.train_y, spec.val_fraction)
        parts = {
            "train_x": raw.train_x[train_idx],
            "train_y": raw.train_y[train_idx],
            "val_x": raw.train_x[val_idx],
            "val_y": raw.train_y[val_idx],
        }
    for which, limit in (("train", spec.train_images), ("val", spec.val_images)):
        if limit is not None and limit < len(parts[f"{which}_y"]):
            keep = np.sort(stratified_order(parts[f"{which}_y"], SPLIT_SEED)[:limit])
            parts[f"{which}_x"], parts[f"{which}_y"] = parts[f"{which}_x"][keep], parts[f"{which}_y"][keep]
    return parts


def prepare(
    ref: DatasetRef, schedule: Schedule, channels: int, out_dir: Path, info: DatasetInfo | None = None
) -> PreparedData:
    """Load, split, convert and resize the dataset for `schedule`; write .npy files to out_dir."""
    info = info or inspect_dataset(ref)
    spec = schedule.spec
    raw = ref.definition.load(ref.path, spec.resolution)
    parts = split(raw, schedule)
    where = str(ref)
    if len(parts["val_y"]) == 0:
        raise ConfigError(where, "--dataset", "the validation split is empty (too few images to hold any out)")
    if len(parts["train_y"]) < spec.batch_size:
        raise ConfigError(
            schedule.source,
            "batch_size",
            f"{spec.batch_size} is more than the {len(parts['train_y'])} training images of {where}",
        )
    for key in ("train_x", "val_x"):
        parts[key] = resize(convert_channels(parts[key], channels), spec.resolution)
    mean, std = normalisation(parts["train_x"], spec.normalize)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for key, array in parts.items():
        files[key] = str(out_dir / f"{key}.npy")
        np.save(files[key], np.ascontiguousarray(array))
    return PreparedData(
        dataset=ref.name,
        dataset_id=dataset_id(ref, info),
        classes=info.classes,
        channels=channels,
        resolution=spec.resolution,
        mean=mean,
        std=std,
        hflip=ref.definition.hflip if spec.augment.hflip == "auto" else bool(spec.augment.hflip),
        files=files,
        sizes={"train": len(parts["train_y"]), "val": len(parts["val_y"])},
    )


def normalise(x: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """uint8 N×H×W×C → float32 N×C×H×W, (x/255 − mean)/std (what every network here is fed)."""
    m = np.asarray(mean, dtype=np.float32)[:, None, None]
    s = np.asarray(std, dtype=np.float32)[:, None, None]
    return ((x.transpose(0, 3, 1, 2).astype(np.float32) / 255.0) - m) / s


def calibration_images(data: PreparedData, n: int, seed: int = 0) -> np.ndarray:
    """n normalised training images (float32 N×C×H×W, classes in proportion) for int8 calibration."""
    x = np.load(data.files["train_x"], mmap_mode="r")
    y = np.load(data.files["train_y"])
    pick = np.sort(stratified_order(y, seed)[: min(n, len(y))])
    return normalise(np.asarray(x[pick]), data.mean, data.std)
