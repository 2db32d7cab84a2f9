"""COCO's per-image matching of detections to objects, kept per image so that AP can be re-accumulated cheaply.

faster-coco-eval 1.8 keeps its per-image results (`evalImgs`) inside its C++ extension, out of Python's reach, so
the matching is redone here with COCO's rules for boxes and the area range `all`: per image and category, the
100 highest-scoring detections (stable order on ties) are matched greedily, best first, each to the free
non-ignored object of highest IoU ≥ the threshold (the later one on a tie), else to an ignored (crowd) region,
which any number of detections may share. IoU with a crowd region is the overlap over the detection's area.
tests/accuracy/detection/test_bootstrap.py checks that accumulating these matches gives the evaluator's AP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hwbench.accuracy.detection.cocoeval import Detections, image_scale, xywh
from hwbench.accuracy.detection.data import DetectionSplit

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # COCO's, built as its evaluator builds them (same doubles)
MAX_DETECTIONS = 100  # per image and category, as COCO's AP@[.5:.95] counts them


@dataclass(frozen=True)
class Matches:
    """One category's detections over all images, in the evaluator's order (score descending, then image)."""

    image: np.ndarray  # (D,) image index of each detection
    tp: np.ndarray  # (T, D) bool: matched to a non-ignored object at threshold t
    fp: np.ndarray  # (T, D) bool: matched to nothing (a detection on an ignored region is neither)


@dataclass(frozen=True)
class Matching:
    """Every category's matches and, per image, its non-ignored objects: what accumulating AP needs."""

    images: int
    objects: np.ndarray  # (K, I) non-ignored objects of category k in image i
    categories: list[Matches]


def box_iou(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """(D, G) IoU of COCO [x, y, w, h] boxes; against a crowd region the union is the detection's own area."""
    x1 = np.maximum(dt[:, None, 0], gt[None, :, 0])
    y1 = np.maximum(dt[:, None, 1], gt[None, :, 1])
    x2 = np.minimum(dt[:, None, 0] + dt[:, None, 2], gt[None, :, 0] + gt[None, :, 2])
    y2 = np.minimum(dt[:, None, 1] + dt[:, None, 3], gt[None, :, 1] + gt[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    dt_area, gt_area = dt[:, 2] * dt[:, 3], gt[:, 2] * gt[:, 3]
    union = np.where(crowd[None, :], dt_area[:, None], dt_area[:, None] + gt_area[None, :] - inter)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def match_image(iou: np.ndarray, regular: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, D) tp and ignored flags of score-ordered detections against objects whose first `regular` columns are
    ordinary objects and the rest ignored regions, by COCO's greedy rule at every threshold at once."""
    n_dt = iou.shape[0]
    tp = np.zeros((IOU_THRESHOLDS.size, n_dt), bool)
    ignored = np.zeros_like(tp)
    thresholds = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)[:, None]
    taken = np.zeros((IOU_THRESHOLDS.size, regular), bool)
    rows = np.arange(IOU_THRESHOLDS.size)
    for d in np.flatnonzero(iou.max(axis=1, initial=0.0) >= thresholds[0, 0]):  # others match nothing anywhere
        reach = iou[d][None, :] >= thresholds
        free = reach[:, :regular] & ~taken
        found = free.any(axis=1)
        if found.any():
            best = np.where(free, iou[d, :regular], -1.0)[:, ::-1]
            pick = regular - 1 - np.argmax(best, axis=1)  # COCO keeps the later of equal IoUs
            taken[rows[found], pick[found]] = True
            tp[found, d] = True
        ignored[:, d] = ~found & reach[:, regular:].any(axis=1)
    return tp, ignored


def match_detections(split: DetectionSplit, detections: Sequence[Detections]) -> Matching:
    """COCO's matching of each image's detections, collected per category in the evaluator's order."""
    if len(detections) != len(split):
        raise ValueError(f"{len(detections)} detection sets for {len(split)} images")
    n_cat, n_img, n_thr = split.num_classes, len(split), IOU_THRESHOLDS.size
    objects = np.zeros((n_cat, n_img), np.int64)
    parts: list[list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in range(n_cat)]
    for i, (boxes, scores, labels) in enumerate(detections):
        scale = image_scale(split, i)
        gt, gt_labels = xywh(split.boxes[i], scale), np.asarray(split.labels[i]).reshape(-1)
        region, region_labels = xywh(split.ignore_boxes[i], scale), np.asarray(split.ignore_labels[i]).reshape(-1)
        dt, scores = xywh(boxes, scale), np.asarray(scores, np.float64).reshape(-1)
        labels = np.asarray(labels).reshape(-1).astype(np.int64)
        outside = labels[(labels < 0) | (labels >= n_cat)]
        if outside.size:
            raise ValueError(f"image {i}: detection label {int(outside[0])} outside the split's {n_cat} classes")
        np.add.at(objects[:, i], gt_labels, 1)
        for k in np.unique(labels):
            mine = np.flatnonzero(labels == k)
            mine = mine[np.argsort(-scores[mine], kind="stable")][:MAX_DETECTIONS]
            g = np.concatenate([gt[gt_labels == k], region[region_labels == k]])
            crowd = np.r_[np.zeros(int((gt_labels == k).sum()), bool), np.ones(int((region_labels == k).sum()), bool)]
            if len(g):
                tp, ignored = match_image(box_iou(dt[mine], g, crowd), int((~crowd).sum()))
            else:
                tp = ignored = np.zeros((n_thr, mine.size), bool)
            parts[k].append((scores[mine], np.full(mine.size, i), tp, ~tp & ~ignored))
    return Matching(n_img, objects, [_in_evaluator_order(p, n_thr) for p in parts])


def _in_evaluator_order(parts: list[tuple[np.ndarray, ...]], n_thr: int) -> Matches:
    """One category's per-image pieces (in image order) sorted by score, stable as the evaluator sorts them."""
    if not parts:
        return Matches(np.zeros(0, np.int64), np.zeros((n_thr, 0), bool), np.zeros((n_thr, 0), bool))
    scores = np.concatenate([p[0] for p in parts])
    order = np.argsort(-scores, kind="stable")
    image = np.concatenate([p[1] for p in parts])[order]
    tp = np.concatenate([p[2] for p in parts], axis=1)[:, order]
    fp = np.concatenate([p[3] for p in parts], axis=1)[:, order]
    return Matches(image, tp, fp)
