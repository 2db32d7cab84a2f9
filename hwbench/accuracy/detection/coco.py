"""`coco`: the COCO JSON layout (PATH/annotations/instances_train.json and instances_val.json).

Images are looked up as PATH/<split folder>/<file_name>, where the split folder is the JSON name after
`instances_` (`train`, `val`, `train2017`...), then as PATH/<file_name>. Category ids map to 0..C-1 in sorted
id order (class names from the training file). Crowd annotations (`iscrowd: 1`) are never training targets but
are handed to the evaluator as regions to ignore. Boxes are COCO's [x, y, width, height] in image pixels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.accuracy.detection.data import (
    DETECTION_DATASETS,
    DetectionData,
    DetectionDatasetDef,
    DetectionInfo,
    ImageRecord,
    check_box,
    check_image_file,
    records_data,
    records_info,
)
from hwbench.errors import ConfigError

LAYOUT = (
    "a folder with annotations/instances_train.json and annotations/instances_val.json (COCO JSON; a suffix such "
    "as instances_train2017.json is accepted) and the images in train/ and val/ (or as file_name says, from PATH)"
)
SPLITS = {"train": "train", "test": "val"}


def annotation_file(path: Path, split: str) -> Path:
    """PATH/annotations/instances_<split>.json, or the one instances_<split>*.json there."""
    folder = path / "annotations"
    exact = folder / f"instances_{split}.json"
    if exact.is_file():
        return exact
    found = sorted(folder.glob(f"instances_{split}*.json")) if folder.is_dir() else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigError(path, None, f"missing annotations/instances_{split}.json; expected {LAYOUT}")
    names = ", ".join(f.name for f in found)
    raise ConfigError(folder, None, f"several {split} annotation files ({names}); keep one")


def _read_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(file, None, f"malformed JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ConfigError(file, "images", "not a COCO instances file (needs an 'images' list)")
    if not isinstance(data.get("annotations", []), list) or not isinstance(data.get("categories"), list):
        raise ConfigError(file, "categories", "not a COCO instances file (needs 'categories' and 'annotations' lists)")
    return data


def _field(file: Path, entry: str, item: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    """item[key], checked to be of `kind` (bool is not an int here)."""
    value = item.get(key) if isinstance(item, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(file, entry, f"missing or invalid {key!r} (got {value!r})")
    return value


def categories(file: Path, data: dict[str, Any]) -> dict[int, str]:
    """Category id → name, in sorted id order."""
    cats: dict[int, str] = {}
    for i, cat in enumerate(data["categories"]):
        cid = _field(file, f"categories[{i}]", cat, "id", int)
        cats[cid] = str(cat.get("name", cid))
    if not cats:
        raise ConfigError(file, "categories", "no categories")
    return dict(sorted(cats.items()))


def _images(path: Path, file: Path, data: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    """Image id → {file, width, height}, each file checked to exist."""
    folder = path / file.stem.removeprefix("instances_")
    images: dict[Any, dict[str, Any]] = {}
    for i, img in enumerate(data["images"]):
        iid = _field(file, f"images[{i}]", img, "id", (int, str))
        entry = f"image id {iid}"
        if iid in images:
            raise ConfigError(file, entry, "image id appears twice")
        name = _field(file, entry, img, "file_name", str)
        width, height = (_field(file, entry, img, k, int) for k in ("width", "height"))
        if width <= 0 or height <= 0:
            raise ConfigError(file, entry, f"image size {width}x{height} is not positive")
        image = next((c for c in (folder / name, path / name) if c.is_file()), folder / name)
        check_image_file(file, entry, image)
        images[iid] = {"file": image, "width": width, "height": height, "boxes": [], "labels": [], "ignore": []}
    if not images:
        raise ConfigError(file, "images", "the split is empty (no images)")
    return images


def _records(path: Path, file: Path, cat_index: dict[int, int]) -> list[ImageRecord]:
    """Every image of one split with its checked boxes."""
    data = _read_json(file)
    images = _images(path, file, data)
    for i, ann in enumerate(data.get("annotations", [])):
        aid = ann.get("id", f"#{i}") if isinstance(ann, dict) else f"#{i}"
        entry = f"annotation id {aid}"
        iid = _field(file, entry, ann, "image_id", (int, str))
        cid = _field(file, entry, ann, "category_id", int)
        bbox = _field(file, entry, ann, "bbox", list)
        if iid not in images:
            raise ConfigError(file, entry, f"unknown image_id {iid!r}")
        if cid not in cat_index:
            raise ConfigError(file, entry, f"unknown category_id {cid} (known: {sorted(cat_index)})")
        if len(bbox) != 4 or not all(isinstance(v, (int, float)) for v in bbox):
            raise ConfigError(file, entry, f"bbox must be [x, y, width, height] numbers (got {bbox!r})")
        img = images[iid]
        x, y, w, h = bbox
        img["boxes"].append(check_box(file, entry, (x, y, x + w, y + h), img["width"], img["height"]))
        img["labels"].append(cat_index[cid])
        img["ignore"].append(bool(ann.get("iscrowd", 0)))
    return [
        ImageRecord(
            img["file"],
            str(iid),
            img["height"],
            img["width"],
            np.array(img["boxes"], np.float32).reshape(-1, 4),
            np.array(img["labels"], np.int64),
            np.array(img["ignore"], bool),
        )
        for iid, img in images.items()
    ]


def parse(path: Path) -> tuple[tuple[str, ...], dict[str, list[ImageRecord]], list[Path]]:
    """Class names, checked records per split ("train", "test") and the annotation files."""
    if not path.is_dir():
        raise ConfigError(path, None, f"not a folder; expected {LAYOUT}")
    files = {split: annotation_file(path, name) for split, name in SPLITS.items()}
    cats = categories(files["train"], _read_json(files["train"]))
    cat_index = {cid: i for i, cid in enumerate(cats)}
    records = {split: _records(path, file, cat_index) for split, file in files.items()}
    return tuple(cats.values()), records, list(files.values())


def inspect_coco(path: Path | None) -> DetectionInfo:
    """Parse and check both splits without decoding images; fingerprint the JSON and every image file."""
    assert path is not None
    classes, records, files = parse(path)
    return records_info(path, classes, records, files)


def load_coco(path: Path | None, size: int) -> DetectionData:
    """Both splits decoded and resized to size×size."""
    assert path is not None
    classes, records, _ = parse(path)
    return records_data(classes, records, size)


DETECTION_DATASETS.register("coco")(
    DetectionDatasetDef(
        name="coco",
        description="your boxes in the COCO JSON layout (train and val instances files)",
        layout=LAYOUT,
        inspect=inspect_coco,
        load=load_coco,
    )
)
