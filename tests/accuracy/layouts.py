"""Tiny datasets written in each supported layout, with learnable content (class = a bright square's position)."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np


def images(n: int, classes: int, size: int, channels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 N×size×size×C images whose class is where a bright square sits (so a network can learn it)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    x = rng.integers(0, 60, (n, size, size, channels), dtype=np.uint8)
    cell = max(1, size // classes)
    for i, c in enumerate(labels):
        x[i, :, c * cell : (c + 1) * cell] = 230
    return x, labels.astype(np.int64)


def write_cifar(root: Path, per_batch: int = 8, test: int = 10, classes: int = 10, variant: str = "cifar10") -> Path:
    """cifar-10-batches-py/ (5 data batches, test_batch, batches.meta) or cifar-100-python/ (train, test, meta)."""
    folder = root / ("cifar-10-batches-py" if variant == "cifar10" else "cifar-100-python")
    folder.mkdir(parents=True)
    label_key = b"labels" if variant == "cifar10" else b"fine_labels"
    names = [f"class{i}".encode() for i in range(classes)]

    def dump(name: str, x: np.ndarray, y: np.ndarray) -> None:
        data = {b"data": x.transpose(0, 3, 1, 2).reshape(len(x), -1), label_key: [int(v) for v in y]}
        (folder / name).write_bytes(pickle.dumps(data, protocol=2))

    if variant == "cifar10":
        for i in range(1, 6):
            dump(f"data_batch_{i}", *images(per_batch, classes, 32, 3, seed=i))
        dump("test_batch", *images(test, classes, 32, 3, seed=99))
        (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    else:
        dump("train", *images(per_batch * 5, classes, 32, 3, seed=1))
        dump("test", *images(test, classes, 32, 3, seed=99))
        (folder / "meta").write_bytes(pickle.dumps({b"fine_label_names": names}, protocol=2))
    return folder


def write_imagefolder(
    root: Path, classes: int = 3, per_class: int = 6, size: int = 20, val: int = 0, mode: str = "RGB"
) -> Path:
    """root/<class>/*.png, or root/train/<class>/ and root/val/<class>/ when `val` images per class are asked."""
    from PIL import Image

    channels = 1 if mode == "L" else 3
    splits = {"train": per_class, "val": val} if val else {"": per_class}
    for split, count in splits.items():
        x, y = images(count * classes, classes, size, channels, seed=len(split))
        for i, (img, label) in enumerate(zip(x, y)):
            folder = root / split / f"c{label}" if split else root / f"c{label}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img[..., 0] if channels == 1 else img, mode).save(folder / f"{i}.png")
    return root


def _idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = b"\0\0\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def write_idx(root: Path, train: int = 40, test: int = 10, gz: bool = True) -> Path:
    """The four MNIST-style IDX files (28×28 grayscale, 10 classes)."""
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", train, 1), ("t10k", test, 2)):
        x, y = images(n, 10, 28, 1, seed)
        _idx(root / f"{prefix}-images-idx3-ubyte", x[..., 0], gz)
        _idx(root / f"{prefix}-labels-idx1-ubyte", y, gz)
    return root


# dataset name → (writer, expected classes, channels, train size, test size)
LAYOUTS = {
    "cifar10": (lambda p: write_cifar(p / "data"), 10, 3, 40, 10),
    "cifar100": (lambda p: write_cifar(p / "data", classes=20, variant="cifar100"), 20, 3, 40, 10),
    "imagefolder": (lambda p: write_imagefolder(p / "data", val=2), 3, 3, 18, 6),
    "mnist": (lambda p: write_idx(p / "data"), 10, 1, 40, 10),
    "fashion-mnist": (lambda p: write_idx(p / "data", gz=False), 10, 1, 40, 10),
}


def prepared_digits(tmp: Path, schedule_yaml: str) -> tuple:
    """(schedule, prepared built-in digits, folder) for a schedule given as YAML text, prepared under `tmp`."""
    from hwbench.accuracy.datasets import parse_dataset
    from hwbench.accuracy.prepare import prepare
    from hwbench.accuracy.schedule import load_schedule

    path = tmp / "s.yaml"
    path.write_text(schedule_yaml)
    schedule = load_schedule(path)
    return schedule, prepare(parse_dataset("digits"), schedule, 3, tmp / "data"), tmp
