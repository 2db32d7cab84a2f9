"""`cifar10` and `cifar100`: the standard python pickle layout (cifar-10-batches-py/, cifar-100-python/)."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.accuracy.datasets import DATASETS, DatasetDef, DatasetInfo, RawData, files_fingerprint
from hwbench.errors import ConfigError


@dataclass(frozen=True)
class CifarLayout:
    """File names and keys of one CIFAR variant."""

    folder: str
    train: tuple[str, ...]
    test: str
    meta: str
    label_key: bytes
    names_key: bytes
    url: str
    md5: str


CIFAR10 = CifarLayout(
    "cifar-10-batches-py",
    tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test_batch",
    "batches.meta",
    b"labels",
    b"label_names",
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "c58f30108f718f92721af3b95e74349a",
)
CIFAR100 = CifarLayout(
    "cifar-100-python",
    ("train",),
    "test",
    "meta",
    b"fine_labels",
    b"fine_label_names",
    "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    "eb9058c3a382ffc7106e4002c42a8d85",
)

# The batches are pickles of dicts holding numpy arrays; nothing else may be constructed while reading them.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),  # how Python 3 writes bytes into a protocol-2 pickle
}


class _Unpickler(pickle.Unpickler):
    """An unpickler that builds only plain containers and numpy arrays (a batch file cannot run code)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "_codecs":
            import codecs

            return codecs.encode
        try:
            from numpy._core import multiarray  # numpy >= 2 (pickles written by numpy 1 name numpy.core)
        except ImportError:  # numpy 1.x
            from numpy.core import multiarray

        return np.ndarray if name == "ndarray" else np.dtype if name == "dtype" else getattr(multiarray, name)


def _unpickle(path: Path) -> dict[bytes, Any]:
    try:
        with open(path, "rb") as f:
            data = _Unpickler(f, encoding="bytes").load()
    except Exception as exc:
        raise ConfigError(path, None, f"not a CIFAR python batch ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(path, None, f"not a CIFAR python batch (a {type(data).__name__}, not a dict)")
    return data


def _root(path: Path, layout: CifarLayout) -> Path:
    """The folder holding the batches: PATH itself or PATH/<standard folder name>; every file must be there."""
    names = (*layout.train, layout.test, layout.meta)
    root = next((c for c in (path / layout.folder, path) if any((c / n).is_file() for n in names)), path)
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise ConfigError(
            root,
            None,
            f"not a {layout.folder} folder (missing {', '.join(missing)}); expected the python pickle layout",
        )
    return root


def _batch(path: Path, layout: CifarLayout) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 N×32×32×3, int64 labels) of one batch file."""
    data = _unpickle(path)
    if b"data" not in data or layout.label_key not in data:
        keys = ", ".join(k.decode(errors="replace") if isinstance(k, bytes) else str(k) for k in data)
        raise ConfigError(path, None, f"missing b'data' or {layout.label_key!r} (has {keys})")
    x = np.asarray(data[b"data"], dtype=np.uint8)
    y = np.asarray(data[layout.label_key], dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != 3072 or len(x) != len(y):
        raise ConfigError(path, None, f"expected N×3072 image rows and N labels, got {x.shape} and {len(y)} labels")
    return x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), y


def _read(path: Path, layout: CifarLayout) -> tuple[tuple[str, ...], RawData, Path]:
    root = _root(path, layout)
    names = tuple(
        n.decode() if isinstance(n, bytes) else str(n) for n in _unpickle(root / layout.meta)[layout.names_key]
    )
    parts = [_batch(root / f, layout) for f in layout.train]
    test_x, test_y = _batch(root / layout.test, layout)
    train_y = np.concatenate([y for _, y in parts])
    for file, y in ((layout.train[0], train_y), (layout.test, test_y)):
        if len(y) and (y.min() < 0 or y.max() >= len(names)):
            raise ConfigError(root / file, None, f"label {int(y.max())} is outside the {len(names)} classes in meta")
    return names, RawData(np.concatenate([x for x, _ in parts]), train_y, test_x, test_y), root


def _definition(name: str, layout: CifarLayout, description: str) -> DatasetDef:
    def inspect(path: Path | None) -> DatasetInfo:
        assert path is not None
        names, data, root = _read(path, layout)
        files = [root / f for f in (*layout.train, layout.test, layout.meta)]
        return DatasetInfo(names, 3, len(data.train_y), len(data.test_y), files_fingerprint(root, files))

    def load(path: Path | None, size: int) -> RawData:
        assert path is not None
        return _read(path, layout)[1]

    def download(path: Path) -> Path:
        from hwbench.accuracy.datasets.download import extract_tar, fetch

        parent = path.parent if path.name == layout.folder else path
        archive = fetch([layout.url], parent / layout.url.rsplit("/", 1)[1], layout.md5)
        extract_tar(archive, parent)
        return parent / layout.folder

    return DatasetDef(
        name=name,
        description=description,
        layout=f"the {layout.folder} folder of the python version (or the folder containing it)",
        inspect=inspect,
        load=load,
        download=download,
    )


DATASETS.register("cifar10")(_definition("cifar10", CIFAR10, "CIFAR-10, 32x32 colour, 10 classes, 50k/10k"))
DATASETS.register("cifar100")(_definition("cifar100", CIFAR100, "CIFAR-100 (fine labels), 32x32, 100 classes"))
