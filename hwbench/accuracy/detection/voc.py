"""`voc`: the Pascal VOC layout (PATH/Annotations/*.xml, PATH/JPEGImages/, PATH/ImageSets/Main/{train,val}.txt).

Class names are the sorted object names found in the XML files of both splits. VOC's 1-based pixel corners
become xyxy pixel edges (xmin - 1, ymin - 1, xmax, ymax). Objects marked `difficult` are never training targets;
the evaluator ignores them (detections on them neither count nor hurt), as VOC's own metric does.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

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
    "a Pascal VOC folder: Annotations/<id>.xml, JPEGImages/<image files>, "
    "ImageSets/Main/train.txt and ImageSets/Main/val.txt (one image id per line)"
)
SPLITS = {"train": "train", "test": "val"}
CORNERS = ("xmin", "ymin", "xmax", "ymax")

# One object as read from XML: (class name, xyxy box, difficult).
RawObject = tuple[str, list[float], bool]


def image_ids(path: Path, split: str) -> tuple[Path, list[str]]:
    """The split's list file and the image ids in it (first token of each non-empty line)."""
    listing = path / "ImageSets" / "Main" / f"{split}.txt"
    if not listing.is_file():
        raise ConfigError(path, None, f"missing ImageSets/Main/{split}.txt; expected {LAYOUT}")
    ids = [line.split()[0] for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not ids:
        raise ConfigError(listing, None, "the split is empty (no image ids)")
    seen: set[str] = set()
    for iid in ids:
        if iid in seen:
            raise ConfigError(listing, f"image {iid}", "image id appears twice")
        seen.add(iid)
    return listing, ids


def _int(xml: Path, entry: str, node: ET.Element | None, tag: str) -> int:
    text = node.findtext(tag) if node is not None else None
    try:
        return int(float(str(text).strip()))
    except ValueError:
        raise ConfigError(xml, entry, f"missing or invalid <{tag}> (got {text!r})") from None


def _object(xml: Path, k: int, obj: ET.Element, width: int, height: int) -> RawObject:
    """One <object>: its name, checked xyxy box and difficult flag."""
    name = (obj.findtext("name") or "").strip()
    entry = f"object {k} ({name or 'no name'})"
    if not name:
        raise ConfigError(xml, entry, "object without a <name>")
    corners = [_float(xml, entry, obj.find("bndbox"), tag) for tag in CORNERS]
    box = [corners[0] - 1.0, corners[1] - 1.0, corners[2], corners[3]]
    difficult = (obj.findtext("difficult") or "0").strip() not in ("0", "")
    return name, check_box(xml, entry, box, width, height), difficult


def _float(xml: Path, entry: str, node: ET.Element | None, tag: str) -> float:
    text = node.findtext(tag) if node is not None else None
    try:
        return float(str(text).strip())
    except ValueError:
        raise ConfigError(xml, entry, f"missing or invalid <bndbox><{tag}> (got {text!r})") from None


def read_annotation(path: Path, listing: Path, iid: str) -> tuple[Path, Path, int, int, list[RawObject]]:
    """(xml file, image file, height, width, objects) of one image id, every part checked."""
    xml = path / "Annotations" / f"{iid}.xml"
    if not xml.is_file():
        raise ConfigError(listing, f"image {iid}", f"annotation file {xml} does not exist")
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ConfigError(xml, None, f"malformed XML ({exc})") from None
    image = path / "JPEGImages" / (root.findtext("filename") or f"{iid}.jpg").strip()
    check_image_file(xml, "filename", image)
    size = root.find("size")
    width, height = _int(xml, "size", size, "width"), _int(xml, "size", size, "height")
    if width <= 0 or height <= 0:
        raise ConfigError(xml, "size", f"image size {width}x{height} is not positive")
    objects = [_object(xml, k, obj, width, height) for k, obj in enumerate(root.findall("object"))]
    return xml, image, height, width, objects


def parse(path: Path) -> tuple[tuple[str, ...], dict[str, list[ImageRecord]], list[Path]]:
    """Class names, checked records per split ("train", "test") and every annotation and list file."""
    if not path.is_dir():
        raise ConfigError(path, None, f"not a folder; expected {LAYOUT}")
    raw: dict[str, list[tuple[str, tuple[Path, Path, int, int, list[RawObject]]]]] = {}
    files: list[Path] = []
    for split, name in SPLITS.items():
        listing, ids = image_ids(path, name)
        raw[split] = [(iid, read_annotation(path, listing, iid)) for iid in ids]
        files += [listing] + [parts[0] for _, parts in raw[split]]
    classes = tuple(sorted({obj[0] for items in raw.values() for _, parts in items for obj in parts[4]}))
    index = {name: i for i, name in enumerate(classes)}
    records = {
        split: [
            ImageRecord(
                image,
                iid,
                height,
                width,
                np.array([o[1] for o in objects], np.float32).reshape(-1, 4),
                np.array([index[o[0]] for o in objects], np.int64),
                np.array([o[2] for o in objects], bool),
            )
            for iid, (_, image, height, width, objects) in items
        ]
        for split, items in raw.items()
    }
    return classes, records, sorted(set(files))


def inspect_voc(path: Path | None) -> DetectionInfo:
    """Parse and check both splits without decoding images; fingerprint the lists, XML and image files."""
    assert path is not None
    classes, records, files = parse(path)
    if not classes:
        raise ConfigError(path / "Annotations", None, "no <object> in any annotation file (no classes)")
    return records_info(path, classes, records, files)


def load_voc(path: Path | None, size: int) -> DetectionData:
    """Both splits decoded and resized to size×size."""
    assert path is not None
    classes, records, _ = parse(path)
    return records_data(classes, records, size)


DETECTION_DATASETS.register("voc")(
    DetectionDatasetDef(
        name="voc",
        description="your boxes in the Pascal VOC layout (XML per image, train/val id lists)",
        layout=LAYOUT,
        inspect=inspect_voc,
        load=load_voc,
    )
)
