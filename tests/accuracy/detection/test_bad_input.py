"""Bad detection annotations fail in `inspect` (before anything is stored) with one line naming file and entry."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from hwbench.accuracy.detection.data import get_detection_dataset, inspect_detection_dataset, parse_detection_dataset
from hwbench.errors import ConfigError
from tests.accuracy.detection.test_data import write_coco, write_voc


def _edit_json(file: Path, change: Callable[[dict], None]) -> None:
    doc = json.loads(file.read_text())
    change(doc)
    file.write_text(json.dumps(doc))


def _ann(doc: dict, ann_id: int) -> dict:
    return next(a for a in doc["annotations"] if a["id"] == ann_id)


# case → (break the written COCO dataset, file the error names, entry it names, message pattern)
COCO_CASES: dict[str, tuple[Callable[[Path], None], str, str, str]] = {
    "missing image": (
        lambda p: (p / "train" / "b.png").unlink(),
        "instances_train.json",
        "image id 2",
        r"image file .*b\.png does not exist",
    ),
    "box outside the image": (
        lambda p: _edit_json(
            p / "annotations/instances_train.json", lambda d: _ann(d, 1).update(bbox=[40, 4, 30, 10])
        ),  # x2 = 70 > 64 + 1
        "instances_train.json",
        "annotation id 1",
        r"lies outside the 64x48 image",
    ),
    "empty box": (
        lambda p: _edit_json(p / "annotations/instances_val.json", lambda d: _ann(d, 6).update(bbox=[5, 5, 0, 10])),
        "instances_val.json",
        "annotation id 6",
        r"is empty \(needs x2 > x1",
    ),
    "unknown category": (
        lambda p: _edit_json(p / "annotations/instances_train.json", lambda d: _ann(d, 3).update(category_id=5)),
        "instances_train.json",
        "annotation id 3",
        r"unknown category_id 5 \(known: \[3, 7\]\)",
    ),
    "unknown image": (
        lambda p: _edit_json(p / "annotations/instances_train.json", lambda d: _ann(d, 2).update(image_id=99)),
        "instances_train.json",
        "annotation id 2",
        r"unknown image_id 99",
    ),
    "empty split": (
        lambda p: _edit_json(p / "annotations/instances_val.json", lambda d: d.update(images=[], annotations=[])),
        "instances_val.json",
        "images",
        r"the split is empty",
    ),
    "malformed json": (
        lambda p: (p / "annotations/instances_train.json").write_text('{"images": [ '),
        "instances_train.json",
        "",
        r"malformed JSON",
    ),
    "missing split file": (
        lambda p: (p / "annotations/instances_val.json").unlink(),
        "data",
        "",
        r"missing annotations/instances_val.json",
    ),
}


def _edit_xml(file: Path, old: str, new: str) -> None:
    text = file.read_text()
    assert old in text
    file.write_text(text.replace(old, new, 1))


VOC_CASES: dict[str, tuple[Callable[[Path], None], str, str, str]] = {
    "missing image": (
        lambda p: (p / "JPEGImages" / "c.png").unlink(),
        "c.xml",
        "filename",
        r"image file .*c\.png does not exist",
    ),
    "box outside the image": (
        lambda p: _edit_xml(p / "Annotations/a.xml", "<ymax>40</ymax>", "<ymax>50</ymax>"),  # 50 > 48 + 1
        "a.xml",
        "object 0 (cat)",
        r"lies outside the 64x48 image",
    ),
    "inverted box": (
        lambda p: _edit_xml(p / "Annotations/d.xml", "<xmax>45</xmax>", "<xmax>3</xmax>"),
        "d.xml",
        "object 0 (cat)",
        r"is empty \(needs x2 > x1",
    ),
    "bad coordinate": (
        lambda p: _edit_xml(p / "Annotations/a.xml", "<xmin>35</xmin>", "<xmin>left</xmin>"),
        "a.xml",
        "object 1 (dog)",
        r"invalid <bndbox><xmin> \(got 'left'\)",
    ),
    "empty split": (
        lambda p: (p / "ImageSets/Main/val.txt").write_text("\n"),
        "val.txt",
        "",
        r"the split is empty",
    ),
    "malformed xml": (
        lambda p: (p / "Annotations/b.xml").write_text("<annotation><size>"),
        "b.xml",
        "",
        r"malformed XML",
    ),
    "missing annotation": (
        lambda p: (p / "Annotations/e.xml").unlink(),
        "val.txt",
        "image e",
        r"annotation file .*e\.xml does not exist",
    ),
}


def _check(layout: str, path: Path, file: str, entry: str, pattern: str) -> None:
    with pytest.raises(ConfigError) as info:
        inspect_detection_dataset(parse_detection_dataset(f"{layout}:{path}"))
    error = info.value
    assert Path(str(error.source)).name == file
    assert (error.key or "") == entry
    assert "\n" not in str(error) and re.search(pattern, str(error)), str(error)


@pytest.mark.parametrize("case", sorted(COCO_CASES))
def test_bad_coco_input_names_file_and_entry(tmp_path: Path, case: str) -> None:
    path = write_coco(tmp_path / "data")
    get_detection_dataset("coco").inspect(path)  # fine before the damage
    damage, file, entry, pattern = COCO_CASES[case]
    damage(path)
    _check("coco", path, file, entry, pattern)


@pytest.mark.parametrize("case", sorted(VOC_CASES))
def test_bad_voc_input_names_file_and_entry(tmp_path: Path, case: str) -> None:
    path = write_voc(tmp_path / "data")
    get_detection_dataset("voc").inspect(path)
    damage, file, entry, pattern = VOC_CASES[case]
    damage(path)
    _check("voc", path, file, entry, pattern)


def test_a_box_within_one_pixel_of_the_border_is_clipped_not_refused(tmp_path: Path) -> None:
    path = write_coco(tmp_path / "data")
    _edit_json(path / "annotations/instances_train.json", lambda d: _ann(d, 1).update(bbox=[-0.6, 4, 65, 36]))
    split = get_detection_dataset("coco").load(path, 64).train
    assert split.boxes[0][0].tolist() == [0.0, pytest.approx(4 * 64 / 48), 64.0, pytest.approx(40 * 64 / 48)]


def test_image_whose_size_disagrees_with_its_annotation_fails_on_load(tmp_path: Path) -> None:
    path = write_coco(tmp_path / "data")
    _edit_json(path / "annotations/instances_val.json", lambda d: d["images"][0].update(width=60))
    with pytest.raises(ConfigError, match=r"d\.png: image is 50x50 but its annotation says 60x50"):
        get_detection_dataset("coco").load(path, 32)


def test_missing_dataset_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset path does not exist; expected a Pascal VOC folder"):
        inspect_detection_dataset(parse_detection_dataset(f"voc:{tmp_path / 'nope'}"))
