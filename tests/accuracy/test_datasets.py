"""Every registered dataset: its layout written by the test, inspected, loaded; bad layouts fail clearly."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from hwbench.accuracy.datasets import dataset_names, get_dataset, inspect_dataset, parse_dataset
from hwbench.errors import ConfigError
from tests.accuracy.layouts import LAYOUTS, write_cifar, write_idx, write_imagefolder


def test_every_dataset_with_a_path_has_a_layout_test() -> None:
    assert sorted(LAYOUTS) == sorted(n for n in dataset_names() if get_dataset(n).needs_path)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_layout_inspects_and_loads(tmp_path: Path, name: str) -> None:
    writer, classes, channels, train, test = LAYOUTS[name]
    path = writer(tmp_path)
    ref = parse_dataset(f"{name}:{path}")
    info = inspect_dataset(ref)
    assert (info.num_classes, info.channels, info.train_size, info.test_size) == (classes, channels, train, test)
    raw = ref.definition.load(ref.path, 24)
    assert raw.train_x.dtype == np.uint8 and raw.train_x.ndim == 4 and raw.train_x.shape[-1] == channels
    assert len(raw.train_x) == len(raw.train_y) == train and len(raw.test_y) == test
    assert raw.train_y.min() >= 0 and raw.train_y.max() < classes
    assert inspect_dataset(ref).fingerprint == info.fingerprint  # stable


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_changed_content_changes_the_fingerprint(tmp_path: Path, name: str) -> None:
    path = LAYOUTS[name][0](tmp_path)
    ref = parse_dataset(f"{name}:{path}")
    before = inspect_dataset(ref).fingerprint
    victim = sorted(p for p in path.rglob("*") if p.is_file() and "label" not in p.name and "meta" not in p.name)[0]
    if victim.suffix == ".png":
        from PIL import Image

        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(victim)
    elif victim.suffix == ".gz" or "idx" in victim.name:
        data = bytearray(victim.read_bytes())
        data[-1] ^= 1
        victim.write_bytes(bytes(data))
    else:
        batch = pickle.loads(victim.read_bytes())
        batch[b"data"][0, 0] ^= 1
        victim.write_bytes(pickle.dumps(batch))
    assert inspect_dataset(ref).fingerprint != before


def test_builtin_digits_needs_no_path_and_no_network() -> None:
    ref = parse_dataset("digits")
    info = inspect_dataset(ref)
    assert (info.num_classes, info.channels, info.train_size, info.test_size) == (10, 1, 1797, 0)
    raw = ref.definition.load(None, 32)
    assert raw.train_x.shape == (1797, 8, 8, 1) and raw.train_x.max() == 255 and raw.test_x is None


def test_imagefolder_without_val_and_grayscale(tmp_path: Path) -> None:
    path = write_imagefolder(tmp_path / "g", classes=2, per_class=4, mode="L")
    info = inspect_dataset(parse_dataset(f"imagefolder:{path}"))
    assert (info.classes, info.channels, info.train_size, info.test_size) == (("c0", "c1"), 1, 8, 0)


def test_cifar_accepts_the_parent_folder(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    assert inspect_dataset(parse_dataset(f"cifar10:{tmp_path}")).train_size == 40


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("digit", r"unknown dataset 'digit' \(did you mean 'digits'\?\)"),
        ("cifar10", r"dataset 'cifar10' needs a path: cifar10:PATH"),
        ("digits:/tmp/x", r"dataset 'digits' is built in and takes no path"),
    ],
)
def test_bad_dataset_argument(arg: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_dataset(arg)


def test_missing_path_says_how_to_download_and_downloads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hwbench.accuracy.datasets.download as download

    monkeypatch.setattr(download, "fetch", lambda *a, **k: pytest.fail("downloaded without --download"))
    for name in ("cifar10", "mnist"):
        with pytest.raises(ConfigError, match=r"nope: dataset path does not exist; expected .* \(or add --download"):
            inspect_dataset(parse_dataset(f"{name}:{tmp_path / 'nope'}"))
    with pytest.raises(ConfigError, match="dataset path does not exist"):
        inspect_dataset(parse_dataset(f"imagefolder:{tmp_path / 'nope'}"), download=True)  # nothing to download


def _bad_cifar_pickle(path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (path / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}))


def _cifar_label_out_of_range(path: Path) -> None:
    batch = pickle.loads((path / "test_batch").read_bytes())
    batch[b"labels"][0] = 10
    (path / "test_batch").write_bytes(pickle.dumps(batch))


BAD_LAYOUTS = [
    ("cifar10", lambda p: (write_cifar(p), (p / "cifar-10-batches-py" / "test_batch").unlink()), "missing test_batch"),
    ("cifar10", lambda p: _bad_cifar_pickle(write_cifar(p)), "refusing to load builtins.print"),
    ("cifar10", lambda p: _cifar_label_out_of_range(write_cifar(p)), "label 10 is outside the 10 classes"),
    ("mnist", lambda p: (write_idx(p), (p / "t10k-labels-idx1-ubyte.gz").unlink()), "missing t10k-labels-idx1-ubyte"),
    (
        "mnist",
        lambda p: (write_idx(p, gz=False), (p / "train-images-idx3-ubyte").write_bytes(b"\0\0\x09\x03")),
        "bad magic",
    ),
    ("imagefolder", lambda p: p.mkdir(), "no class sub-folders"),
    (
        "imagefolder",
        lambda p: (write_imagefolder(p, val=1), [f.unlink() for f in (p / "val").rglob("*.png")]),
        "validation split is empty",
    ),
    (
        "imagefolder",
        lambda p: (write_imagefolder(p), (p / "c1" / "0.png").write_bytes(b"not a png")),
        "cannot read image",
    ),
    ("imagefolder", lambda p: (write_imagefolder(p, classes=1), None), "a classifier needs at least 2"),
]


@pytest.mark.parametrize(("name", "make", "message"), BAD_LAYOUTS, ids=[m for _, _, m in BAD_LAYOUTS])
def test_bad_layout_is_one_clear_error(tmp_path: Path, name: str, make, message: str) -> None:
    path = tmp_path / "d"
    make(path)
    ref = parse_dataset(f"{name}:{path}")
    with pytest.raises(ConfigError, match=message) as err:
        inspect_dataset(ref)
        ref.definition.load(ref.path, 16)  # some problems only show when the pixels are decoded
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)
