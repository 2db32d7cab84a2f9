"""The COCO evaluator on hand-built splits whose AP follows from the 101-point COCO definition by hand."""

from __future__ import annotations

import numpy as np
import pytest

from hwbench.accuracy.detection.cocoeval import evaluate_detections
from hwbench.accuracy.detection.data import DetectionSplit, get_detection_dataset

SIZE = 100


def make_split(
    boxes: list[list[list[float]]],
    labels: list[list[int]],
    orig: int = SIZE,
    ignore_boxes: list[list[list[float]]] | None = None,
    ignore_labels: list[list[int]] | None = None,
) -> DetectionSplit:
    """A split of len(boxes) blank SIZE×SIZE images (pixels are irrelevant to the evaluator), on disk orig×orig."""
    n = len(boxes)
    as_boxes = lambda bs: [np.array(b, np.float32).reshape(-1, 4) for b in bs]  # noqa: E731
    as_labels = lambda ls: [np.array(lab, np.int64) for lab in ls]  # noqa: E731
    return DetectionSplit(
        ("a", "b"),
        np.zeros((n, SIZE, SIZE, 3), np.uint8),
        as_boxes(boxes),
        as_labels(labels),
        tuple(str(i) for i in range(n)),
        np.full((n, 2), orig, np.int64),
        as_boxes(ignore_boxes) if ignore_boxes else [],
        as_labels(ignore_labels) if ignore_labels else [],
    )


def as_detections(split: DetectionSplit, shift: float = 0.0, keep: int | None = None) -> list:
    """The ground truth fed back as detections with score 1 (shifted right by `shift`; images ≥ keep get none)."""
    dets = []
    for i, (b, lab) in enumerate(zip(split.boxes, split.labels)):
        b = b + np.array([shift, 0, shift, 0], np.float32)
        dets.append((b, np.ones(len(b)), lab) if keep is None or i < keep else (b[:0], np.ones(0), lab[:0]))
    return dets


def test_ground_truth_fed_back_gives_ap_one_on_digits_det() -> None:
    split = get_detection_dataset("digits-det").load(None, 128).test
    result = evaluate_detections(split, as_detections(split))
    assert result["map"] == result["map50"] == result["map75"] == 1.0
    assert result["map_small"] == result["map_medium"] == 1.0
    assert result["map_large"] is None  # no digit exceeds 96×96 px on a 128-px canvas: COCO reports -1
    assert (result["images"], result["boxes"], result["detections"]) == (200, split.num_boxes, split.num_boxes)


def test_ground_truth_fed_back_gives_ap_one_in_every_area_range() -> None:
    # On disk 400×400 (4× the input): sides 6, 20, 50 input px → 24, 80, 200 px: small, medium, large.
    boxes = [[[10, 10, 16, 16]], [[10, 10, 30, 30]], [[10, 10, 60, 60]]]
    split = make_split(boxes, [[0], [1], [0]], orig=400)
    result = evaluate_detections(split, as_detections(split))
    assert [result[k] for k in ("map", "map_small", "map_medium", "map_large")] == [1.0, 1.0, 1.0, 1.0]


def test_area_ranges_are_measured_in_the_images_own_pixels() -> None:
    boxes, labels = [[[10, 10, 30, 30]]], [[0]]  # 20×20 input px
    small = evaluate_detections(make_split(boxes, labels, orig=SIZE), as_detections(make_split(boxes, labels)))
    assert (small["map_small"], small["map_medium"]) == (1.0, None)  # 400 px² < 32²
    medium = evaluate_detections(make_split(boxes, labels, orig=400), as_detections(make_split(boxes, labels)))
    assert (medium["map_small"], medium["map_medium"]) == (None, 1.0)  # 80×80 = 6400 px² on disk


def test_dropping_half_the_detections_halves_recall() -> None:
    # 10 images, each with one box of each class; detections only on the first 5: recall 0.5 at precision 1.
    # COCO's AP averages precision at 101 recall points 0, 0.01, ..., 1: points 0..0.5 (51 of them) have
    # precision 1 and the rest 0, so AP = 51/101 at every IoU threshold.
    split = make_split([[[5, 5, 40, 40], [50, 50, 90, 90]]] * 10, [[0, 1]] * 10)
    result = evaluate_detections(split, as_detections(split, keep=5))
    for key in ("map", "map50", "map75"):
        assert result[key] == pytest.approx(51 / 101, abs=1e-6)
    assert result["detections"] == 10


def test_shifted_boxes_lose_ap_at_high_iou_only() -> None:
    # A 40×40 box shifted 8 px: IoU = (32·40)/(48·40) = 2/3. It matches at IoU thresholds .50, .55, .60, .65
    # and misses at .70 ... .95, so AP50 = 1, AP75 = 0 and AP@[.5:.95] = 4/10.
    split = make_split([[[20, 20, 60, 60]]] * 4, [[0]] * 4)
    result = evaluate_detections(split, as_detections(split, shift=8))
    assert result["map50"] == 1.0 and result["map75"] == 0.0
    assert result["map"] == pytest.approx(0.4, abs=1e-6)


def test_detections_on_ignored_objects_neither_count_nor_hurt() -> None:
    # One object (score 0.5 detection) and a crowd/difficult region holding a more confident detection (0.9).
    obj, region = [10, 10, 40, 40], [60, 60, 90, 90]
    dets = [(np.array([obj, region], np.float32), np.array([0.5, 0.9]), np.array([0, 0]))]
    with_region = make_split([[obj]], [[0]], ignore_boxes=[[region]], ignore_labels=[[0]])
    assert evaluate_detections(with_region, dets)["map50"] == 1.0
    # Without the region the 0.9 detection is a false positive ranked first: precision 1/2 at every recall.
    without = make_split([[obj]], [[0]])
    assert evaluate_detections(without, dets)["map50"] == pytest.approx(0.5, abs=1e-6)


def test_a_wrong_class_scores_zero_and_nothing_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    split = make_split([[[20, 20, 60, 60]]], [[0]])
    result = evaluate_detections(split, [(split.boxes[0], np.ones(1), np.array([1]))])
    assert result["map50"] == 0.0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_one_detection_set_per_image() -> None:
    split = make_split([[[20, 20, 60, 60]]] * 2, [[0]] * 2)
    with pytest.raises(ValueError, match=r"1 detection sets for 2 images"):
        evaluate_detections(split, as_detections(split)[:1])
