"""Datasets: one loader per file, registered by name; `--dataset NAME[:PATH]` picks one.

A loader has two halves: `inspect(path)` checks the layout, counts classes and images and fingerprints
the files without decoding them (cheap: it runs before anything is stored), and `load(path, size)` returns
the images as uint8 arrays. Loaders never download: `download(path)` is a separate, explicit step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.errors import ConfigError, UnknownNameError
from hwbench.registry import Registry

DATASET_MODULES = (
    "hwbench.accuracy.datasets.builtin",
    "hwbench.accuracy.datasets.cifar",
    "hwbench.accuracy.datasets.imagefolder",
    "hwbench.accuracy.datasets.idx",
)


@dataclass(frozen=True)
class DatasetInfo:
    """What `inspect` finds: class names, image channels, split sizes and a content fingerprint."""

    classes: tuple[str, ...]
    channels: int
    train_size: int
    test_size: int  # 0 when the dataset has no official test split (a holdout is taken from train)
    fingerprint: str  # sha256 over the files (or arrays) the images come from

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)


@dataclass(frozen=True)
class RawData:
    """Images as uint8 (N, H, W, C) and int64 labels; `test_*` is None without an official test split."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray | None = None
    test_y: np.ndarray | None = None


@dataclass(frozen=True)
class DatasetDef:
    """A registered dataset loader."""

    name: str
    description: str
    layout: str  # what PATH must look like, for errors and `hwbench datasets`
    inspect: Callable[[Path | None], DatasetInfo]
    load: Callable[[Path | None, int], RawData]
    needs_path: bool = True
    # Whether a horizontal flip keeps the label (true for objects, false for digits and letters).
    hflip: bool = True
    download: Callable[[Path], Path] | None = None
    # Bump when the loader changes what it returns, so accuracies are not reused across the change.
    version: int = 1


DATASETS: Registry[DatasetDef] = Registry("dataset")


def load_all() -> None:
    """Import every loader module (cheap: heavy libraries are imported inside the loaders)."""
    for module in DATASET_MODULES:
        import_module(module)


def get_dataset(name: str) -> DatasetDef:
    """Look up a dataset by name."""
    load_all()
    return DATASETS.get(name)


def dataset_names() -> list[str]:
    """Every registered dataset name."""
    load_all()
    return DATASETS.names()


@dataclass(frozen=True)
class DatasetRef:
    """A parsed `--dataset NAME[:PATH]`."""

    name: str
    path: Path | None

    @property
    def definition(self) -> DatasetDef:
        """The registered loader."""
        return get_dataset(self.name)

    def __str__(self) -> str:
        return self.name if self.path is None else f"{self.name}:{self.path}"


def parse_dataset(arg: str, option: str = "--dataset") -> DatasetRef:
    """`digits`, `cifar10:/data/cifar-10-batches-py`, `imagefolder:./photos` → DatasetRef (checked names)."""
    definition, path = split_dataset_arg(arg, option, get_dataset)
    return DatasetRef(definition.name, path)


def split_dataset_arg(arg: str, option: str, lookup: Callable[[str], Any]) -> tuple[Any, Path | None]:
    """(registered definition, path) of a `NAME[:PATH]` argument: the name known to `lookup`, a path given
    exactly when the dataset needs one (classification and detection datasets alike)."""
    name, sep, path = str(arg).partition(":")
    try:
        definition = lookup(name.strip())
    except UnknownNameError as exc:
        raise ConfigError(arg, option, str(exc)) from None
    if definition.needs_path and not path:
        raise ConfigError(arg, option, f"dataset {name!r} needs a path: {name}:PATH where PATH is {definition.layout}")
    if not definition.needs_path and sep:
        raise ConfigError(arg, option, f"dataset {name!r} is built in and takes no path")
    return definition, Path(path).expanduser() if path else None


def inspect_dataset(ref: DatasetRef, download: bool = False) -> DatasetInfo:
    """Check the dataset's layout (downloading first only when asked); raise ConfigError naming the path."""
    definition = ref.definition
    path = ref.path
    can_download = download and definition.download is not None
    if path is not None and not path.exists() and not can_download:
        hint = " (or add --download to fetch it)" if definition.download is not None else ""
        raise ConfigError(path, None, f"dataset path does not exist; expected {definition.layout}{hint}")
    try:
        info = definition.inspect(path)
    except ConfigError:
        if not can_download:
            raise
        # Only an explicit --download reaches the network, and only when the files are not already there.
        assert path is not None and definition.download is not None
        path = definition.download(path)
        info = definition.inspect(path)
    if info.num_classes < 2:
        raise ConfigError(path or ref.name, None, f"found {info.num_classes} class; a classifier needs at least 2")
    if info.train_size == 0:
        raise ConfigError(path or ref.name, None, "the training split is empty")
    return info


def files_fingerprint(root: Path, files: list[Path]) -> str:
    """sha256 over the relative names and bytes of `files` (sorted), identifying a dataset's content."""
    import hashlib

    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(str(file.relative_to(root)).encode() + b"\0")
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
