"""`imagefolder`: one sub-folder of images per class (PATH/<class>/*.png), or PATH/train/ and PATH/val/ so.

Without a `val/` (or `test/`) folder, a seeded holdout of the images is the validation split. Images are
decoded with Pillow and fitted (shorter side resized, centre-cropped) to the schedule's resolution on load;
the first image decides grayscale (1 channel) or RGB (3 channels) for all.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from hwbench.accuracy.datasets import DATASETS, DatasetDef, DatasetInfo, RawData, files_fingerprint
from hwbench.errors import ConfigError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
VAL_FOLDERS = ("val", "test")


def _class_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)


def _splits(path: Path) -> tuple[list[str], dict[str, list[tuple[Path, int]]]]:
    """Class names and (file, label) lists per split ("train" and, if present, "test")."""
    if not path.is_dir():
        raise ConfigError(path, None, "not a folder; expected one sub-folder of images per class")
    train_root = path / "train" if (path / "train").is_dir() else path
    val_root = next((path / v for v in VAL_FOLDERS if train_root != path and (path / v).is_dir()), None)
    classes = [d.name for d in _class_dirs(train_root)]
    if not classes:
        raise ConfigError(train_root, None, "no class sub-folders; expected PATH/<class>/<image files>")
    index = {name: i for i, name in enumerate(classes)}
    splits: dict[str, list[tuple[Path, int]]] = {"train": []}
    for name in classes:
        splits["train"] += [(f, index[name]) for f in _images(train_root / name)]
    if val_root is not None:
        splits["test"] = []
        for folder in _class_dirs(val_root):
            if folder.name not in index:
                raise ConfigError(folder, None, f"class {folder.name!r} is not among the training classes")
            splits["test"] += [(f, index[folder.name]) for f in _images(folder)]
        if not splits["test"]:
            raise ConfigError(val_root, None, "the validation folder holds no images (the validation split is empty)")
    empty = [name for name in classes if not any(label == index[name] for _, label in splits["train"])]
    if empty:
        raise ConfigError(train_root / empty[0], None, f"class folder has no images ({', '.join(EXTENSIONS)})")
    return classes, splits


def _open(file: Path, mode: str | None = None, size: int | None = None) -> np.ndarray | str:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(file) as img:
            if mode is None:
                return "L" if img.mode in ("1", "L", "I", "I;16", "F") else "RGB"
            img = img.convert(mode)
            if size is not None and img.size != (size, size):
                img = ImageOps.fit(img, (size, size), method=Image.Resampling.BILINEAR)
            array = np.asarray(img, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise ConfigError(file, None, f"cannot read image ({exc})") from None
    return array[..., None] if array.ndim == 2 else array


def inspect_folder(path: Path | None) -> DatasetInfo:
    """Classes from the folder names, channels from the first image, a fingerprint of every file."""
    assert path is not None
    classes, splits = _splits(path)
    mode = _open(splits["train"][0][0])
    files = [f for items in splits.values() for f, _ in items]
    return DatasetInfo(
        tuple(classes),
        1 if mode == "L" else 3,
        len(splits["train"]),
        len(splits.get("test", [])),
        files_fingerprint(path, files),
    )


def load_folder(path: Path | None, size: int) -> RawData:
    """Decode every image (threads: Pillow releases the GIL) and fit it to size×size."""
    assert path is not None
    _, splits = _splits(path)
    mode = _open(splits["train"][0][0])

    def read(items: list[tuple[Path, int]]) -> tuple[np.ndarray, np.ndarray]:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            arrays = list(pool.map(lambda item: _open(item[0], str(mode), size), items))
        return np.stack(arrays), np.array([label for _, label in items], dtype=np.int64)

    train_x, train_y = read(splits["train"])
    if "test" not in splits:
        return RawData(train_x, train_y)
    test_x, test_y = read(splits["test"])
    return RawData(train_x, train_y, test_x, test_y)


DATASETS.register("imagefolder")(
    DatasetDef(
        name="imagefolder",
        description="your images: one sub-folder per class (optionally under train/ and val/)",
        layout="a folder with one sub-folder of images per class, or train/ and val/ folders laid out so",
        inspect=inspect_folder,
        load=load_folder,
    )
)
