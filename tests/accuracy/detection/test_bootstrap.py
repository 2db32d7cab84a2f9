"""The mAP bootstrap re-accumulates COCO's AP exactly: unweighted it is the evaluator's AP, and under integer image
weights it is the evaluator's AP on the split with those images repeated."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hwbench.accuracy.detection.bootstrap import (
    accumulate,
    bootstrap_matching,
    map_interval,
    map_intervals,
    resample_weights,
)
from hwbench.accuracy.detection.coco_matches import match_detections
from hwbench.accuracy.detection.cocoeval import evaluate_detections
from hwbench.accuracy.detection.data import DetectionSplit

SIZE = 100


def split_of(boxes: list, labels: list, classes: int, regions: list | None = None, region_labels: list | None = None):
    """Blank SIZE×SIZE images (on disk 2×) with the given objects and ignored regions."""
    n = len(boxes)
    as_boxes = lambda bs: [np.asarray(b, np.float32).reshape(-1, 4) for b in bs]  # noqa: E731
    as_labels = lambda ls: [np.asarray(lab, np.int64).reshape(-1) for lab in ls]  # noqa: E731
    return DetectionSplit(
        tuple("abcdefghij"[:classes]),
        np.zeros((n, SIZE, SIZE, 3), np.uint8),
        as_boxes(boxes),
        as_labels(labels),
        tuple(str(i) for i in range(n)),
        np.full((n, 2), 2 * SIZE, np.int64),
        as_boxes(regions) if regions else [],
        as_labels(region_labels) if region_labels else [],
    )


def random_case(seed: int, images: int = 30, classes: int = 3, crowd: bool = False, ties: bool = False,
                crowded: bool = False, unused_class: bool = False):  # fmt: skip
    """Objects, jittered and duplicated detections, clutter, wrong labels; optionally crowd regions (with detections
    on them), scores rounded to tenths (ties across images), and > 100 detections of one class in an image."""
    rng = np.random.default_rng(seed)
    used = classes - 1 if unused_class else classes  # the last class: detections only, no object anywhere
    boxes, labels, regions, region_labels, detections = [], [], [], [], []
    for _ in range(images):
        g = int(rng.integers(0, 5))
        corner = rng.uniform(0, 70, (g, 2))
        obj = np.c_[corner, corner + rng.uniform(5, 30, (g, 2))]
        lab = rng.integers(0, used, g)
        c = int(rng.integers(0, 2)) if crowd else 0
        region_corner = rng.uniform(0, 50, (c, 2))
        region = np.c_[region_corner, region_corner + 40]
        near = [obj + rng.normal(0, 3, obj.shape) for _ in range(2)]
        clutter_corner = rng.uniform(0, 70, (int(rng.integers(0, 6)), 2))
        clutter = np.c_[clutter_corner, clutter_corner + rng.uniform(5, 30, clutter_corner.shape)]
        parts = [*near, clutter, region + rng.normal(0, 2, region.shape), region + rng.normal(0, 2, region.shape)]
        part_labels = [lab, lab, rng.integers(0, classes, len(clutter)), *[rng.integers(0, used, c)] * 2]
        if crowded and g:
            parts.append(np.tile(obj[:1], (120, 1)) + rng.normal(0, 4, (120, 4)))
            part_labels.append(np.full(120, lab[0]))
        det = np.concatenate(parts).reshape(-1, 4)
        det[:, 2:] = np.maximum(det[:, 2:], det[:, :2] + 1)
        det_labels = np.concatenate(part_labels).astype(np.int64)
        flip = rng.uniform(size=det_labels.size) < 0.1  # a wrong class now and then
        det_labels[flip] = rng.integers(0, classes, int(flip.sum()))
        scores = rng.uniform(size=det_labels.size)
        detections.append((det.astype(np.float32), np.round(scores, 1) if ties else scores, det_labels))
        boxes.append(obj), labels.append(lab), regions.append(region), region_labels.append(rng.integers(0, used, c))
    split = split_of(boxes, labels, classes, regions if crowd else None, region_labels if crowd else None)
    return split, detections


CASES = {
    "plain": dict(seed=0),
    "crowd regions": dict(seed=1, crowd=True),
    "tied scores": dict(seed=2, ties=True),
    "over 100 detections per image and class": dict(seed=3, crowded=True),
    "a class never present": dict(seed=4, unused_class=True, crowd=True),
    "everything at once": dict(seed=5, crowd=True, ties=True, crowded=True, unused_class=True),
}


@pytest.mark.parametrize("case", CASES)
def test_unweighted_accumulation_is_the_evaluators_ap(case: str) -> None:
    split, detections = random_case(**CASES[case])
    expected = evaluate_detections(split, detections)
    ap = accumulate(match_detections(split, detections))[0]
    assert ap.mean() == pytest.approx(expected["map"], abs=1e-12)
    assert ap[0] == pytest.approx(expected["map50"], abs=1e-12)
    assert ap[5] == pytest.approx(expected["map75"], abs=1e-12)
    assert 0.01 < expected["map"] < 0.99  # a case where matching decides the figure


@pytest.mark.parametrize("case", ["plain", "crowd regions", "a class never present"])
def test_integer_weights_equal_the_evaluator_on_repeated_images(case: str) -> None:
    split, detections = random_case(**CASES[case])
    for seed in range(3):
        weights = resample_weights(len(split), 1, seed)[0]
        repeated = np.repeat(np.arange(len(split)), weights.astype(int))
        expected = evaluate_detections(split.subset(repeated), [detections[i] for i in repeated])
        ap = accumulate(match_detections(split, detections), weights[None])[0]
        assert ap.mean() == pytest.approx(expected["map"], abs=1e-12)
        assert ap[0] == pytest.approx(expected["map50"], abs=1e-12)


def test_only_the_100_best_detections_of_an_image_and_class_count() -> None:
    obj = [20, 20, 60, 60]
    clutter = np.tile([[70, 70, 90, 90]], (100, 1))
    boxes = np.concatenate([clutter, [obj]]).astype(np.float32)
    scores = np.r_[np.linspace(0.9, 0.5, 100), 0.1]  # the only true detection is the 101st
    split = split_of([[obj]], [[0]], 2)
    for labels, expected in ((np.zeros(101, np.int64), 0.0), (np.r_[np.ones(100, np.int64), 0], 1.0)):
        dets = [(boxes, scores, labels)]
        assert evaluate_detections(split, dets)["map50"] == expected
        assert accumulate(match_detections(split, dets))[0][0] == pytest.approx(expected, abs=1e-12)


def test_a_detection_equally_close_to_two_objects_takes_the_later_one() -> None:
    # Objects A and B overlap; the best detection sits symmetrically between them (IoU 5/7 with each), the second
    # overlaps only B (IoU 0.76). COCO gives the first to B, so the second finds B taken: AP50 = 51/101, not 1.
    a, b = [0, 0, 30, 20], [10, 0, 40, 20]
    dets = [(np.array([[5, 0, 35, 20], [14, 0, 44, 20]], np.float32), np.array([0.9, 0.8]), np.zeros(2, np.int64))]
    split = split_of([[a, b]], [[0, 0]], 1)
    expected = evaluate_detections(split, dets)
    ap = accumulate(match_detections(split, dets))[0]
    assert expected["map50"] == pytest.approx(51 / 101, abs=1e-9)
    assert ap[0] == pytest.approx(expected["map50"], abs=1e-12) and ap.mean() == pytest.approx(expected["map"])


def test_detections_on_a_crowd_region_neither_count_nor_hurt() -> None:
    obj, region = [10, 10, 40, 40], [50, 50, 95, 95]
    on_region = [[52, 52, 70, 70], [60, 60, 94, 94], [50, 55, 80, 95]]  # each inside: IoU with a crowd = 1
    dets = [(np.array([*on_region, obj], np.float32), np.array([0.9, 0.8, 0.7, 0.5]), np.zeros(4, np.int64))]
    split = split_of([[obj]], [[0]], 1, [[region]], [[0]])
    assert evaluate_detections(split, dets)["map50"] == 1.0
    assert accumulate(match_detections(split, dets))[0][0] == pytest.approx(1.0, abs=1e-12)


def test_categories_without_objects_are_left_out_of_each_replicate() -> None:
    # image 0 holds a class-a object found perfectly, image 1 a class-b object missed: mAP 0.5 on both images,
    # 1.0 on image 0 alone, 0.0 on image 1 alone, undefined on no image.
    split = split_of([[[10, 10, 40, 40]], [[10, 10, 40, 40]]], [[0], [1]], 2)
    dets = [(np.array([[10, 10, 40, 40]], np.float32), np.ones(1), np.zeros(1, np.int64))] * 2
    ap = accumulate(match_detections(split, dets), np.array([[1, 1], [2, 0], [0, 2], [0, 0]])).mean(axis=1)
    assert ap[:3] == pytest.approx([0.5, 1.0, 0.0]) and np.isnan(ap[3])


def test_the_interval_is_seeded_holds_the_estimate_and_narrows_with_more_images() -> None:
    split, detections = random_case(seed=6, images=60)
    point = evaluate_detections(split, detections)["map"]
    lo, hi = map_interval(split, detections, resamples=300, seed=1)
    assert lo < point < hi and (lo, hi) == map_interval(split, detections, resamples=300, seed=1)
    assert (lo, hi) != map_interval(split, detections, resamples=300, seed=2)
    both = map_intervals(split, detections, resamples=300, seed=1)
    assert both.map == (lo, hi) and both.map50[0] < evaluate_detections(split, detections)["map50"] < both.map50[1]
    assert both.resamples == 300 and both.map_se == pytest.approx((hi - lo) / 3.92, rel=0.3)
    wider = map_intervals(split.subset(range(15)), detections[:15], resamples=300, seed=1)
    assert wider.map[1] - wider.map[0] > 1.4 * (hi - lo)  # a quarter of the images: about twice as wide


def test_no_object_anywhere_gives_no_interval() -> None:
    split = split_of([[], []], [[], []], 2)
    dets = [(np.array([[10, 10, 40, 40]], np.float32), np.ones(1), np.zeros(1, np.int64))] * 2
    assert all(np.isnan(map_interval(split, dets, resamples=20)))


def test_200_images_10_classes_1000_resamples_take_well_under_two_seconds() -> None:
    rng = np.random.default_rng(0)
    boxes, labels, dets = [], [], []
    for _ in range(200):  # a detector's output at a low score threshold: 100 detections an image, most clutter
        g = int(rng.integers(2, 8))
        corner = rng.uniform(0, 70, (g, 2))
        obj = np.c_[corner, corner + rng.uniform(8, 28, (g, 2))].astype(np.float32)
        lab = rng.integers(0, 10, g)
        clutter_corner = rng.uniform(0, 70, (100 - g, 2))
        clutter = np.c_[clutter_corner, clutter_corner + rng.uniform(8, 28, (100 - g, 2))]
        det = np.concatenate([obj + rng.normal(0, 2, obj.shape), clutter]).astype(np.float32)
        scores = np.r_[rng.uniform(0.3, 1, g), rng.uniform(0, 0.6, 100 - g)]
        boxes.append(obj), labels.append(lab), dets.append((det, scores, np.r_[lab, rng.integers(0, 10, 100 - g)]))
    matching = match_detections(split_of(boxes, labels, 10), dets)
    start = time.perf_counter()
    result = bootstrap_matching(matching, resamples=1000)
    assert time.perf_counter() - start < 2.0  # measured 0.2–0.6 s on a shared 2-core machine
    assert result.resamples == 1000 and result.map[0] < result.map[1]


def test_bad_arguments_are_named() -> None:
    split, detections = random_case(seed=0, images=4)
    matching = match_detections(split, detections)
    with pytest.raises(ValueError, match=r"weights of shape \(2, 3\) for 4 images"):
        accumulate(matching, np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"resamples must be ≥ 1, .* got 0, 0.95 and 'bca'"):
        bootstrap_matching(matching, resamples=0)
    with pytest.raises(ValueError, match=r"got 10, 1.5 and 'bca'"):
        bootstrap_matching(matching, resamples=10, confidence=1.5)
    with pytest.raises(ValueError, match=r"method bca or percentile, got 10, 0.95 and 'basic'"):
        bootstrap_matching(matching, resamples=10, method="basic")
    with pytest.raises(ValueError, match=r"3 detection sets for 4 images"):
        map_interval(split, detections[:3])
    wrong = [*detections[:3], (detections[3][0][:1], np.ones(1), np.array([7]))]
    with pytest.raises(ValueError, match=r"image 3: detection label 7 outside the split's 3 classes"):
        map_interval(split, wrong)
