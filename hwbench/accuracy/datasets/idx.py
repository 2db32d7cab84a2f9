"""`mnist` and `fashion-mnist`: the four IDX files (gzipped or not) in one folder, as published."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from hwbench.accuracy.datasets import DATASETS, DatasetDef, DatasetInfo, RawData, files_fingerprint
from hwbench.errors import ConfigError

FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def _find(path: Path) -> dict[str, Path]:
    """The four files under PATH (or PATH/raw), each plain or .gz."""
    for root in (path, path / "raw"):
        found = {}
        for key, stem in FILES.items():
            for name in (stem, stem + ".gz"):
                if (root / name).is_file():
                    found[key] = root / name
        if len(found) == len(FILES):
            return found
    missing = [stem for key, stem in FILES.items() if not any((path / n).is_file() for n in (stem, stem + ".gz"))]
    raise ConfigError(path, None, f"not an IDX dataset folder (missing {', '.join(missing)}, plain or .gz)")


def _read_idx(path: Path, header_only: bool = False) -> tuple[tuple[int, ...], np.ndarray | None]:
    """(shape, uint8 array) of an IDX file; the magic number says unsigned bytes and the rank."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            magic = f.read(4)
            if len(magic) != 4 or magic[:3] != b"\0\0\x08" or not 1 <= magic[3] <= 4:
                raise ConfigError(path, None, "not an unsigned-byte IDX file (bad magic number)")
            shape = struct.unpack(f">{magic[3]}I", f.read(4 * magic[3]))
            if header_only:
                return shape, None
            data = np.frombuffer(f.read(), dtype=np.uint8)
    except (OSError, EOFError, struct.error) as exc:
        raise ConfigError(path, None, f"cannot read IDX file ({exc})") from None
    if data.size != int(np.prod(shape)):
        raise ConfigError(path, None, f"holds {data.size} bytes of data, the header says {shape}")
    return shape, data.reshape(shape)


def _labels(path: Path, classes: int) -> np.ndarray:
    shape, y = _read_idx(path)
    assert y is not None
    if len(shape) != 1:
        raise ConfigError(path, None, f"a label file has rank 1, this one has shape {shape}")
    if y.size and int(y.max()) >= classes:
        raise ConfigError(path, None, f"label {int(y.max())} is outside the dataset's {classes} classes")
    return y.astype(np.int64)


def _check_pairs(files: dict[str, Path], classes: int) -> dict[str, int]:
    sizes = {}
    for split in ("train", "test"):
        shape, _ = _read_idx(files[f"{split}_x"], header_only=True)
        labels = _labels(files[f"{split}_y"], classes)
        if len(shape) != 3 or shape[0] != len(labels):
            raise ConfigError(files[f"{split}_x"], None, f"shape {shape} does not match {len(labels)} labels")
        sizes[split] = len(labels)
    return sizes


def _definition(name: str, classes: tuple[str, ...], md5: dict[str, str], mirrors: tuple[str, ...], text: str):
    def inspect(path: Path | None) -> DatasetInfo:
        assert path is not None
        files = _find(path)
        sizes = _check_pairs(files, len(classes))
        root = files["train_x"].parent
        return DatasetInfo(classes, 1, sizes["train"], sizes["test"], files_fingerprint(root, list(files.values())))

    def load(path: Path | None, size: int) -> RawData:
        assert path is not None
        files = _find(path)
        x = {k: _read_idx(files[k])[1][..., None] for k in ("train_x", "test_x")}  # type: ignore[index]
        y = {k: _labels(files[k], len(classes)) for k in ("train_y", "test_y")}
        return RawData(x["train_x"], y["train_y"], x["test_x"], y["test_y"])

    def download(path: Path) -> Path:
        from hwbench.accuracy.datasets.download import fetch

        for file, checksum in md5.items():
            fetch([m + file for m in mirrors], path / file, checksum)
        return path

    return DatasetDef(
        name=name,
        description=text,
        layout="a folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
        "t10k-labels-idx1-ubyte (each plain or .gz)",
        inspect=inspect,
        load=load,
        download=download,
        hflip=name != "mnist",
    )


DATASETS.register("mnist")(
    _definition("mnist", tuple(str(i) for i in range(10)), MNIST_MD5, MNIST_MIRRORS, "MNIST digits, 28x28, 60k/10k")
)
DATASETS.register("fashion-mnist")(
    _definition("fashion-mnist", FASHION_CLASSES, FASHION_MD5, FASHION_MIRRORS, "Fashion-MNIST, 28x28, 60k/10k")
)
