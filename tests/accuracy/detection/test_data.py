"""Detection datasets: the same small dataset written as COCO JSON and as Pascal VOC XML loads to hand-computed
boxes; digits-det is deterministic and its boxes enclose the digits; splits round-trip through .npz files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwbench.accuracy.detection.data import (
    DetectionSplit,
    detection_dataset_names,
    get_detection_dataset,
    inspect_detection_dataset,
    is_detection_dataset,
    parse_detection_dataset,
)
from hwbench.errors import ConfigError

COLORS = {"cat": (255, 0, 0), "dog": (0, 255, 0)}
# split → images: (file, width, height, mode, objects (x1, y1, x2, y2, class, crowd/difficult)).
SPEC = {
    "train": [
        ("a.png", 64, 48, "RGB", [(4, 4, 30, 40, "cat", False), (34, 10, 60, 30, "dog", False)]),
        ("b.png", 40, 40, "L", [(0, 0, 40, 40, "dog", False)]),
        ("c.png", 80, 60, "RGB", [(10, 10, 50, 50, "cat", False), (52, 5, 78, 25, "dog", True)]),
    ],
    "val": [
        ("d.png", 50, 50, "RGB", [(5, 5, 45, 45, "cat", False)]),
        ("e.png", 30, 60, "RGB", []),
    ],
}
COCO_IDS = {"dog": 7, "cat": 3}  # written unsorted and non-contiguous: the loader sorts ids → cat 0, dog 1


def write_image(file: Path, width: int, height: int, mode: str, objects: list) -> None:
    """A black image with each object's box filled in its class colour (grey 200 in grayscale)."""
    from PIL import Image

    pixels = np.zeros((height, width, 3), np.uint8)
    for x1, y1, x2, y2, name, _ in objects:
        pixels[y1:y2, x1:x2] = COLORS[name]
    file.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels)
    (image.convert("L").point(lambda v: 200 if v else 0) if mode == "L" else image).save(file)


def write_coco(root: Path, spec: dict = SPEC) -> Path:
    """root/annotations/instances_{train,val}.json and root/{train,val}/<images>."""
    (root / "annotations").mkdir(parents=True)
    image_id, ann_id = 1, 1
    for split, images in spec.items():
        doc: dict = {"images": [], "annotations": [], "categories": [{"id": i, "name": n} for n, i in COCO_IDS.items()]}
        for file, width, height, mode, objects in images:
            write_image(root / split / file, width, height, mode, objects)
            doc["images"].append({"id": image_id, "file_name": file, "width": width, "height": height})
            for x1, y1, x2, y2, name, crowd in objects:
                bbox = [x1, y1, x2 - x1, y2 - y1]
                ann = {"id": ann_id, "image_id": image_id, "category_id": COCO_IDS[name], "bbox": bbox}
                doc["annotations"].append({**ann, "iscrowd": int(crowd), "area": bbox[2] * bbox[3]})
                ann_id += 1
            image_id += 1
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(doc))
    return root


def voc_xml(file: str, width: int, height: int, objects: list) -> str:
    """One VOC annotation; corners are 1-based pixel indices, so x1 = xmin - 1 and x2 = xmax."""
    parts = [f"<annotation><filename>{file}</filename><size><width>{width}</width><height>{height}</height>"]
    parts.append("<depth>3</depth></size>")
    for x1, y1, x2, y2, name, difficult in objects:
        parts.append(f"<object><name>{name}</name><difficult>{int(difficult)}</difficult><bndbox>")
        parts.append(f"<xmin>{x1 + 1}</xmin><ymin>{y1 + 1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>")
    return "".join(parts) + "</annotation>"


def write_voc(root: Path, spec: dict = SPEC) -> Path:
    """root/Annotations/<id>.xml, root/JPEGImages/<images>, root/ImageSets/Main/{train,val}.txt."""
    for folder in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for split, images in spec.items():
        for file, width, height, mode, objects in images:
            write_image(root / "JPEGImages" / file, width, height, mode, objects)
            (root / "Annotations" / f"{Path(file).stem}.xml").write_text(voc_xml(file, width, height, objects))
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{Path(f).stem}\n" for f, *_ in images))
    return root


WRITERS = {"coco": write_coco, "voc": write_voc}
EXPECTED_IDS = {"coco": ("1", "2", "3"), "voc": ("a", "b", "c")}


def scaled(box: tuple, width: int, height: int, size: int) -> list[float]:
    """A box scaled with its image from width×height to size×size, by hand."""
    x1, y1, x2, y2 = box[:4]
    return [x1 * size / width, y1 * size / height, x2 * size / width, y2 * size / height]


@pytest.mark.parametrize("layout", sorted(WRITERS))
def test_layout_inspects_to_hand_counts(tmp_path: Path, layout: str) -> None:
    path = WRITERS[layout](tmp_path / "data")
    info = inspect_detection_dataset(parse_detection_dataset(f"{layout}:{path}"))
    assert info.classes == ("cat", "dog")
    assert (info.train_size, info.test_size, info.train_boxes, info.test_boxes) == (3, 2, 4, 1)  # 1 crowd/difficult
    assert inspect_detection_dataset(parse_detection_dataset(f"{layout}:{path}")).fingerprint == info.fingerprint


@pytest.mark.parametrize("layout", sorted(WRITERS))
def test_layout_loads_resized_images_and_scaled_boxes(tmp_path: Path, layout: str) -> None:
    path = WRITERS[layout](tmp_path / "data")
    size = 32
    data = get_detection_dataset(layout).load(path, size)
    train = data.train
    assert train.images.shape == (3, size, size, 3) and train.images.dtype == np.uint8
    assert train.image_ids == EXPECTED_IDS[layout]
    assert train.orig_sizes.tolist() == [[48, 64], [40, 40], [60, 80]]
    for i, (_, width, height, _, objects) in enumerate(SPEC["train"]):
        kept = [o for o in objects if not o[5]]
        ignored = [o for o in objects if o[5]]
        np.testing.assert_allclose(train.boxes[i], [scaled(o, width, height, size) for o in kept] or np.zeros((0, 4)))
        assert train.labels[i].tolist() == [("cat", "dog").index(o[4]) for o in kept]
        assert train.boxes[i].dtype == np.float32 and train.labels[i].dtype == np.int64
        np.testing.assert_allclose(
            train.ignore_boxes[i], [scaled(o, width, height, size) for o in ignored] or np.zeros((0, 4))
        )
    # The resized image and the scaled box agree: the box centre has the class colour, outside is black.
    x1, y1, x2, y2 = train.boxes[0][0]
    centre = train.images[0, int((y1 + y2) / 2), int((x1 + x2) / 2)]
    assert np.abs(centre.astype(int) - COLORS["cat"]).max() <= 10 and train.images[0, -1, 0].max() <= 10
    assert (train.images[1][..., 0] == train.images[1][..., 2]).all()  # grayscale on disk → 3 equal channels
    assert len(data.test) == 2 and data.test.boxes[1].shape == (0, 4) and data.test.num_boxes == 1


def test_both_layouts_give_the_same_boxes(tmp_path: Path) -> None:
    coco = get_detection_dataset("coco").load(write_coco(tmp_path / "c"), 40)
    voc = get_detection_dataset("voc").load(write_voc(tmp_path / "v"), 40)
    for a, b in ((coco.train, voc.train), (coco.test, voc.test)):
        np.testing.assert_array_equal(a.images, b.images)
        for i in range(len(a)):
            np.testing.assert_allclose(a.boxes[i], b.boxes[i])
            np.testing.assert_array_equal(a.labels[i], b.labels[i])


@pytest.mark.parametrize("layout", sorted(WRITERS))
def test_changed_image_changes_the_fingerprint(tmp_path: Path, layout: str) -> None:
    path = WRITERS[layout](tmp_path / "data")
    before = get_detection_dataset(layout).inspect(path).fingerprint
    victim = next(path.rglob("a.png"))
    write_image(victim, 64, 48, "RGB", [(0, 0, 5, 5, "dog", False)])
    assert get_detection_dataset(layout).inspect(path).fingerprint != before


def test_coco_accepts_a_year_suffix_and_images_beside_the_annotations(tmp_path: Path) -> None:
    path = write_coco(tmp_path / "data")
    for split in ("train", "val"):
        (path / "annotations" / f"instances_{split}.json").rename(path / "annotations" / f"instances_{split}2017.json")
        (path / split).rename(path / f"{split}2017")
    assert get_detection_dataset("coco").inspect(path).train_size == 3
    (path / "train2017").rename(path / "elsewhere")
    doc = json.loads((path / "annotations" / "instances_train2017.json").read_text())
    for image in doc["images"]:
        image["file_name"] = f"elsewhere/{image['file_name']}"  # relative to PATH
    (path / "annotations" / "instances_train2017.json").write_text(json.dumps(doc))
    assert get_detection_dataset("coco").load(path, 16).train.images.shape == (3, 16, 16, 3)


def test_digits_det_is_built_in_deterministic_and_in_range() -> None:
    ref = parse_detection_dataset("digits-det")
    info = inspect_detection_dataset(ref)
    assert (info.num_classes, info.train_size, info.test_size) == (10, 800, 200)
    # Same bytes every run, on every machine: a change here means the generator changed (bump `version`).
    assert info.fingerprint == "6702faa5cfb1d2b280573ca1120ddeda017fb64f4c5684e639d74caa665c6c50"
    train = ref.definition.load(None, 128).train
    counts = [len(b) for b in train.boxes]
    assert min(counts) == 1 and max(counts) == 4 and info.train_boxes == sum(counts) == train.num_boxes
    boxes = np.concatenate(train.boxes)
    assert boxes.min() >= 0 and boxes.max() <= 128 and ((boxes[:, 2:] - boxes[:, :2]) > 0).all()
    heights = boxes[:, 3] - boxes[:, 1]
    # Glyph sides are 13-77 px; strokes fill most of a glyph's height, so boxes span small to medium sizes.
    assert heights.min() < 20 and heights.max() > 60
    assert set(np.concatenate(train.labels).tolist()) == set(range(10))


def test_digits_det_boxes_enclose_the_ink() -> None:
    split = get_detection_dataset("digits-det").load(None, 128).test
    singles = [i for i in range(len(split)) if len(split.boxes[i]) == 1]
    assert len(singles) > 20
    for i in singles:
        x1, y1, x2, y2 = split.boxes[i][0].astype(int)
        image = split.images[i].max(axis=2)
        outside = image.copy()
        outside[y1:y2, x1:x2] = 0
        # Noise stays below 40 and ink outside the box is below the box's ink threshold (a quarter of 255).
        assert outside.max() < 64
        assert image[y1:y2, x1:x2].max() > 120  # the digit itself is inside


def test_digits_det_at_another_size_scales_boxes() -> None:
    full = get_detection_dataset("digits-det").load(None, 128).test
    half = get_detection_dataset("digits-det").load(None, 64).test
    assert half.images.shape == (200, 64, 64, 3) and half.size == 64
    np.testing.assert_allclose(np.concatenate(half.boxes), np.concatenate(full.boxes) / 2)
    half.images[0] = 0  # callers get copies, never the cached canvases
    assert get_detection_dataset("digits-det").load(None, 128).test.images[0].any()


@pytest.mark.parametrize("layout", sorted(WRITERS))
def test_split_round_trips_through_npz(tmp_path: Path, layout: str) -> None:
    split = get_detection_dataset(layout).load(WRITERS[layout](tmp_path / "data"), 24).train
    split.save(tmp_path / "s.npz")
    back = DetectionSplit.load(tmp_path / "s.npz")
    assert back.classes == split.classes and back.image_ids == split.image_ids
    np.testing.assert_array_equal(back.images, split.images)
    np.testing.assert_array_equal(back.orig_sizes, split.orig_sizes)
    for name in ("boxes", "labels", "ignore_boxes", "ignore_labels"):
        for a, b in zip(getattr(back, name), getattr(split, name)):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    assert sum(len(b) for b in back.ignore_boxes) == 1


def test_subset_keeps_images_and_boxes_together() -> None:
    split = get_detection_dataset("digits-det").load(None, 128).test
    sub = split.subset([5, 2])
    assert sub.image_ids == (split.image_ids[5], split.image_ids[2])
    np.testing.assert_array_equal(sub.images[1], split.images[2])
    np.testing.assert_array_equal(sub.boxes[0], split.boxes[5])


def test_registry_and_arguments() -> None:
    assert {"coco", "voc", "digits-det"} <= set(detection_dataset_names())
    assert is_detection_dataset("coco:/data/coco") and is_detection_dataset("digits-det")
    assert not is_detection_dataset("digits")  # the classification dataset
    with pytest.raises(ConfigError, match=r"did you mean 'digits-det'"):
        parse_detection_dataset("digits-dt")
    with pytest.raises(ConfigError, match=r"dataset 'coco' needs a path: coco:PATH"):
        parse_detection_dataset("coco")
    with pytest.raises(ConfigError, match=r"built in and takes no path"):
        parse_detection_dataset("digits-det:/tmp/x")
