"""Detection datasets: split containers, the shared image/box checks, and the registry (`--dataset NAME[:PATH]`).

Like the classification loaders, a detection loader has two halves: `inspect(path)` parses the annotations,
checks every image file exists and every box is sane (no decoding) and fingerprints the files, so bad input
fails before anything is stored; `load(path, size)` decodes the images and resizes each whole image to the
network input size×size, scaling its boxes with it. Boxes are float32 xyxy pixels, labels int64 in 0..C-1.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

import numpy as np

from hwbench.errors import ConfigError
from hwbench.registry import Registry

DETECTION_MODULES = (
    "hwbench.accuracy.detection.coco",
    "hwbench.accuracy.detection.voc",
    "hwbench.accuracy.detection.digits_det",
)
# A box may poke this far (pixels) past the image border: annotation tools round outward.
BORDER_TOLERANCE = 1.0


@dataclass(frozen=True)
class DetectionInfo:
    """What `inspect` finds: class names, images and (non-ignored) boxes per split, and a content fingerprint."""

    classes: tuple[str, ...]
    train_size: int
    test_size: int
    fingerprint: str
    train_boxes: int
    test_boxes: int

    @property
    def num_classes(self) -> int:
        """Number of object classes (no background)."""
        return len(self.classes)


def _empty_boxes(n: int) -> list[np.ndarray]:
    return [np.zeros((0, 4), np.float32) for _ in range(n)]


def _empty_labels(n: int) -> list[np.ndarray]:
    return [np.zeros(0, np.int64) for _ in range(n)]


# eq=False: field-wise equality over numpy arrays has no single truth value.
@dataclass(frozen=True, eq=False)
class DetectionSplit:
    """One split at the network input size: images, training boxes, and the regions the evaluator ignores.

    `boxes`/`labels` are the training targets. Crowd (COCO) and difficult (VOC) objects are kept apart in
    `ignore_boxes`/`ignore_labels`: a trainer that reads `boxes` never learns them, and the evaluator neither
    rewards nor penalises detections on them. `orig_sizes` is (height, width) of each image on disk.
    """

    classes: tuple[str, ...]
    images: np.ndarray  # uint8 [N, S, S, 3]
    boxes: list[np.ndarray]  # float32 [k, 4] xyxy in input pixels
    labels: list[np.ndarray]  # int64 [k]
    image_ids: tuple[str, ...]
    orig_sizes: np.ndarray  # int64 [N, 2] (height, width)
    ignore_boxes: list[np.ndarray] = field(default_factory=list)
    ignore_labels: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.images)
        if not self.ignore_boxes:
            object.__setattr__(self, "ignore_boxes", _empty_boxes(n))
            object.__setattr__(self, "ignore_labels", _empty_labels(n))
        lengths = {len(self.boxes), len(self.labels), len(self.image_ids), len(self.orig_sizes)}
        lengths |= {len(self.ignore_boxes), len(self.ignore_labels)}
        if lengths != {n}:
            raise ValueError(f"DetectionSplit parts disagree on the number of images: {sorted(lengths)} vs {n}")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        """The network input side S."""
        return int(self.images.shape[1])

    @property
    def num_classes(self) -> int:
        """Number of object classes."""
        return len(self.classes)

    @property
    def num_boxes(self) -> int:
        """Training boxes over all images."""
        return sum(len(b) for b in self.boxes)

    def subset(self, indices: Sequence[int]) -> DetectionSplit:
        """The images at `indices` (in that order), with their boxes."""
        idx = [int(i) for i in indices]
        return DetectionSplit(
            self.classes,
            self.images[idx],
            [self.boxes[i] for i in idx],
            [self.labels[i] for i in idx],
            tuple(self.image_ids[i] for i in idx),
            self.orig_sizes[idx],
            [self.ignore_boxes[i] for i in idx],
            [self.ignore_labels[i] for i in idx],
        )

    def save(self, path: str | Path) -> None:
        """Write one .npz (no pickles) that `load` reads back, so workers get data as files."""
        boxes = [np.concatenate([b, ib]) for b, ib in zip(self.boxes, self.ignore_boxes)]
        labels = [np.concatenate([lab, il]) for lab, il in zip(self.labels, self.ignore_labels)]
        ignore = [np.r_[np.zeros(len(b), bool), np.ones(len(ib), bool)] for b, ib in zip(self.boxes, self.ignore_boxes)]
        with open(path, "wb") as f:
            np.savez(
                f,
                images=self.images,
                boxes=np.concatenate(boxes).astype(np.float32).reshape(-1, 4),
                labels=np.concatenate(labels).astype(np.int64),
                ignore=np.concatenate(ignore),
                offsets=np.cumsum([0] + [len(b) for b in boxes]).astype(np.int64),
                image_ids=np.array(self.image_ids, dtype=str),
                orig_sizes=self.orig_sizes.astype(np.int64),
                classes=np.array(self.classes, dtype=str),
            )

    @classmethod
    def load(cls, path: str | Path) -> DetectionSplit:
        """Read a split written by `save`."""
        with np.load(path, allow_pickle=False) as z:
            parts = {k: z[k] for k in z.files}
        off = parts["offsets"]
        cut = [slice(off[i], off[i + 1]) for i in range(len(off) - 1)]
        keep = [~parts["ignore"][s] for s in cut]
        box = [parts["boxes"][s] for s in cut]
        lab = [parts["labels"][s] for s in cut]
        return cls(
            tuple(str(c) for c in parts["classes"]),
            parts["images"],
            [b[k] for b, k in zip(box, keep)],
            [lab_[k] for lab_, k in zip(lab, keep)],
            tuple(str(i) for i in parts["image_ids"]),
            parts["orig_sizes"],
            [b[~k] for b, k in zip(box, keep)],
            [lab_[~k] for lab_, k in zip(lab, keep)],
        )


@dataclass(frozen=True, eq=False)
class DetectionData:
    """Both splits of a detection dataset at one input size."""

    train: DetectionSplit
    test: DetectionSplit
    classes: tuple[str, ...]


@dataclass(frozen=True)
class ImageRecord:
    """One annotated image as parsed by `inspect`: its file, size on disk and boxes in its own pixels."""

    file: Path
    image_id: str
    height: int
    width: int
    boxes: np.ndarray  # float32 [k, 4] xyxy, checked and clipped to the image
    labels: np.ndarray  # int64 [k]
    ignore: np.ndarray  # bool [k]: crowd / difficult


def check_box(source: Path, entry: str, box: Sequence[float], width: int, height: int) -> list[float]:
    """Validate an xyxy box against its image (1-px tolerance) and clip it; ConfigError names file and entry."""
    x1, y1, x2, y2 = (float(v) for v in box)
    shown = f"box (x1, y1, x2, y2) = ({x1:g}, {y1:g}, {x2:g}, {y2:g})"
    if not all(np.isfinite([x1, y1, x2, y2])):
        raise ConfigError(source, entry, f"{shown} has a non-finite coordinate")
    if x2 <= x1 or y2 <= y1:
        raise ConfigError(source, entry, f"{shown} is empty (needs x2 > x1 and y2 > y1)")
    tol = BORDER_TOLERANCE
    if x1 < -tol or y1 < -tol or x2 > width + tol or y2 > height + tol:
        raise ConfigError(source, entry, f"{shown} lies outside the {width}x{height} image")
    return [max(x1, 0.0), max(y1, 0.0), min(x2, float(width)), min(y2, float(height))]


def check_image_file(source: Path, entry: str, file: Path) -> None:
    """An annotation must point at an existing image file (checked without decoding it)."""
    if not file.is_file():
        raise ConfigError(source, entry, f"image file {file} does not exist")


def _decode(record: ImageRecord, size: int) -> np.ndarray:
    """Decode one image as RGB (grayscale and palette images too) and resize the whole image to size×size."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(record.file) as img:
            if img.size != (record.width, record.height):
                raise ConfigError(
                    record.file,
                    None,
                    f"image is {img.size[0]}x{img.size[1]} but its annotation says {record.width}x{record.height}",
                )
            img = img.convert("RGB")
            if img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(img, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise ConfigError(record.file, None, f"cannot read image ({exc})") from None


def split_from_records(records: Sequence[ImageRecord], classes: tuple[str, ...], size: int) -> DetectionSplit:
    """Decode every image (threads: Pillow releases the GIL) and scale its boxes to the size×size input."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        images = list(pool.map(lambda r: _decode(r, size), records))
    scaled = [r.boxes * np.array([size / r.width, size / r.height] * 2, np.float32) for r in records]
    return DetectionSplit(
        classes,
        np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8),
        [b[~r.ignore].astype(np.float32) for b, r in zip(scaled, records)],
        [r.labels[~r.ignore] for r in records],
        tuple(r.image_id for r in records),
        np.array([(r.height, r.width) for r in records], np.int64).reshape(-1, 2),
        [b[r.ignore].astype(np.float32) for b, r in zip(scaled, records)],
        [r.labels[r.ignore] for r in records],
    )


def count_boxes(records: Sequence[ImageRecord]) -> int:
    """Boxes a trainer sees (ignored ones excluded)."""
    return int(sum((~r.ignore).sum() for r in records))


def records_info(
    root: Path, classes: tuple[str, ...], records: dict[str, list[ImageRecord]], files: list[Path]
) -> DetectionInfo:
    """What `inspect` reports for checked train/test records: counts and a fingerprint of the annotation files
    and every image they name (no image is decoded)."""
    from hwbench.accuracy.datasets import files_fingerprint

    images = sorted({r.file for recs in records.values() for r in recs})
    train, test = records["train"], records["test"]
    return DetectionInfo(
        classes, len(train), len(test), files_fingerprint(root, files + images), count_boxes(train), count_boxes(test)
    )


def records_data(classes: tuple[str, ...], records: dict[str, list[ImageRecord]], size: int) -> DetectionData:
    """Both splits of checked records, decoded and resized to size×size."""
    train, test = (split_from_records(records[k], classes, size) for k in ("train", "test"))
    return DetectionData(train, test, classes)


@dataclass(frozen=True)
class DetectionDatasetDef:
    """A registered detection dataset loader."""

    name: str
    description: str
    layout: str  # what PATH must look like, for errors and listings
    inspect: Callable[[Path | None], DetectionInfo]
    load: Callable[[Path | None, int], DetectionData]
    needs_path: bool = True
    # Bump when the loader changes what it returns, so accuracies are not reused across the change.
    version: int = 1


DETECTION_DATASETS: Registry[DetectionDatasetDef] = Registry("detection dataset")


def load_all() -> None:
    """Import every detection loader module (cheap: Pillow and scikit-learn are imported inside the loaders)."""
    for module in DETECTION_MODULES:
        import_module(module)


def get_detection_dataset(name: str) -> DetectionDatasetDef:
    """Look up a detection dataset by name (a `NAME:PATH` argument is accepted; the path is ignored)."""
    load_all()
    return DETECTION_DATASETS.get(str(name).partition(":")[0].strip())


def is_detection_dataset(name: str) -> bool:
    """Whether `name` (or the NAME of `NAME:PATH`) is a registered detection dataset."""
    load_all()
    return str(name).partition(":")[0].strip() in DETECTION_DATASETS


def detection_dataset_names() -> list[str]:
    """Every registered detection dataset name."""
    load_all()
    return DETECTION_DATASETS.names()


@dataclass(frozen=True)
class DetectionRef:
    """A parsed `--dataset NAME[:PATH]` naming a detection dataset."""

    name: str
    path: Path | None

    @property
    def definition(self) -> DetectionDatasetDef:
        """The registered loader."""
        return get_detection_dataset(self.name)

    def __str__(self) -> str:
        return self.name if self.path is None else f"{self.name}:{self.path}"


def parse_detection_dataset(arg: str, option: str = "--dataset") -> DetectionRef:
    """`digits-det`, `coco:/data/coco`, `voc:./VOC2012` → DetectionRef (checked name and path presence)."""
    from hwbench.accuracy.datasets import split_dataset_arg

    definition, path = split_dataset_arg(arg, option, get_detection_dataset)
    return DetectionRef(definition.name, path)


def inspect_detection_dataset(ref: DetectionRef) -> DetectionInfo:
    """Check the layout and annotations; raise ConfigError naming the file and entry at fault."""
    definition = ref.definition
    if ref.path is not None and not ref.path.exists():
        raise ConfigError(ref.path, None, f"dataset path does not exist; expected {definition.layout}")
    return definition.inspect(ref.path)
