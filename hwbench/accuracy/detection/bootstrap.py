"""A percentile bootstrap over evaluation images of COCO AP@[.5:.95] and AP50.

The evaluator runs once (hwbench.accuracy.detection.cocoeval); its per-image matching (coco_matches) is then
re-accumulated under each resample's image multiplicities w_i, without matching again: an image drawn w times
adds w copies of each of its detections and objects. Copies of one detection sit next to each other in score
order and are all true or all false positives, so counting them as one step of weight w gives COCO's
101-point AP exactly; with every w_i = 1 it is the evaluator's own AP (tests check both).

Only true positives matter for interpolated AP: the 101 recall points are reached at true positives, and the
precision envelope's maxima lie at them, so each category and threshold needs, per true positive, the weighted
true positives up to it and false positives before it — two matrix products of the weights with per-image counts.

The interval describes the uncertainty from the finite set of evaluation images (another draw of images from
the same population would give another mAP), not the variance over training seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hwbench.accuracy.detection.coco_matches import IOU_THRESHOLDS, Matches, Matching, match_detections
from hwbench.accuracy.detection.cocoeval import Detections
from hwbench.accuracy.detection.data import DetectionSplit

RECALL_POINTS = np.linspace(0.0, 1.0, 101)  # COCO's, built as its evaluator builds them (same doubles)
_CHUNK = 4_000_000  # (resamples × true positives) elements per step: bounds memory on large evaluation sets


@dataclass(frozen=True)
class MapIntervals:
    """Percentile intervals and bootstrap standard errors of AP@[.5:.95] and AP50 over evaluation images."""

    map: tuple[float, float]
    map50: tuple[float, float]
    map_se: float
    map50_se: float
    resamples: int  # replicates that had at least one object (the others have no AP and are left out)


def accumulate(matching: Matching, weights: np.ndarray | None = None) -> np.ndarray:
    """(B, T) COCO AP at each IoU threshold, averaged over the categories that have objects in each replicate
    (NaN where none has), for (B, images) image multiplicities (None: every image once, B = 1)."""
    w = None if weights is None else np.asarray(weights, dtype=float)
    if w is not None and (w.ndim != 2 or w.shape[1] != matching.images):
        raise ValueError(f"weights of shape {w.shape} for {matching.images} images")
    replicates = 1 if w is None else w.shape[0]
    total = np.zeros((replicates, IOU_THRESHOLDS.size))
    counted = np.zeros(replicates)
    for objects, matches in zip(matching.objects, matching.categories):
        # non-ignored objects in each replicate
        npig = np.atleast_1d(float(objects.sum())) if w is None else w @ objects.astype(float)
        present = npig > 0
        if not present.any():
            continue
        ap = category_ap(matches, w, npig)
        total[present] += ap[present]
        counted += present
    with np.errstate(invalid="ignore"):
        return total / counted[:, None]


def category_ap(matches: Matches, w: np.ndarray | None, npig: np.ndarray) -> np.ndarray:
    """(B, T) 101-point interpolated AP of one category under image weights w (None: each image once, B = 1),
    npig its weighted objects per replicate."""
    out = np.zeros((1 if w is None else w.shape[0], IOU_THRESHOLDS.size))
    for t in range(IOU_THRESHOLDS.size):
        hits = np.flatnonzero(matches.tp[t])
        if hits.size == 0:
            continue
        if w is None:  # the point estimate: plain running counts, at any evaluation-set size
            tp = np.cumsum(matches.tp[t])[hits][None, :].astype(float)
            fp = np.cumsum(matches.fp[t])[hits][None, :].astype(float)
            out[:, t] = _interpolated_ap(tp, fp, npig)
            continue
        misses = np.flatnonzero(matches.fp[t])
        step = max(1, _CHUNK // hits.size)
        for start in range(0, w.shape[0], step):
            part = slice(start, start + step)
            tp = _weighted_counts(w[part], matches.image[hits], hits, hits, inclusive=True)
            fp = _weighted_counts(w[part], matches.image[misses], misses, hits, inclusive=False)
            out[part, t] = _interpolated_ap(tp, fp, npig[part])
    return out


def _weighted_counts(
    w: np.ndarray, image: np.ndarray, position: np.ndarray, at: np.ndarray, inclusive: bool
) -> np.ndarray:
    """(B, len(at)) weighted number of marked detections (image, position in score order) before each position in
    `at` (or at it, when inclusive): the weights times per-image counts, built a block of columns at a time."""
    n_img = w.shape[1]
    span = int(max(position.max(initial=0), at.max(initial=0))) + 1
    keys = np.sort(image.astype(np.int64) * span + position)
    base = np.arange(n_img, dtype=np.int64)[:, None] * span
    first = np.searchsorted(keys, base, "left")
    side = "right" if inclusive else "left"
    out = np.empty((w.shape[0], at.size))
    columns = max(1, _CHUNK // n_img)
    for start in range(0, at.size, columns):
        block = at[start : start + columns]
        counts = np.searchsorted(keys, base + block[None, :], side) - first
        out[:, start : start + columns] = w @ counts.astype(float)  # float: integer products skip BLAS
    return out


def _interpolated_ap(tp: np.ndarray, fp: np.ndarray, npig: np.ndarray) -> np.ndarray:
    """(B,) AP from (B, P) weighted true and false positives at each true positive: mean over the 101 recall points
    of the best precision at recall ≥ the point. A true positive whose image is not drawn repeats the previous
    recall with lower precision, so it changes nothing."""
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp + np.spacing(1))  # COCO's guard against 0/0
        recall = tp / npig[:, None]
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    reached = np.searchsorted(RECALL_POINTS, recall.ravel(), "right").reshape(recall.shape)
    gained = np.diff(reached, axis=1, prepend=0)  # recall points first reached at each true positive
    return (envelope * gained).sum(axis=1) / RECALL_POINTS.size


def resample_weights(images: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, images) multiplicities of a bootstrap over images: each row a multinomial draw of `images`."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, images, (resamples, images))
    rows = np.arange(resamples)[:, None] * images
    return np.bincount((pick + rows).ravel(), minlength=resamples * images).reshape(resamples, images).astype(float)


def bootstrap_matching(
    matching: Matching, *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> MapIntervals:
    """Percentile intervals of AP@[.5:.95] and AP50 over `resamples` bootstrap draws of the images."""
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(f"resamples must be ≥ 1 and confidence in (0, 1), got {resamples} and {confidence}")
    if matching.images == 0:
        raise ValueError("no evaluation images to resample")
    ap = accumulate(matching, resample_weights(matching.images, resamples, seed))
    ap = ap[np.isfinite(ap).all(axis=1)]
    if ap.shape[0] == 0:
        nan = (float("nan"), float("nan"))
        return MapIntervals(nan, nan, float("nan"), float("nan"), 0)
    tails = [(1 - confidence) / 2, (1 + confidence) / 2]
    whole, at50 = ap.mean(axis=1), ap[:, 0]
    lo, hi = np.quantile(whole, tails)
    lo50, hi50 = np.quantile(at50, tails)
    return MapIntervals(
        (float(lo), float(hi)), (float(lo50), float(hi50)), float(whole.std()), float(at50.std()), ap.shape[0]
    )


def map_intervals(
    split: DetectionSplit,
    detections: Sequence[Detections],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> MapIntervals:
    """Bootstrap intervals of AP@[.5:.95] and AP50 of detections on a split (the evaluate_detections arguments)."""
    matching = match_detections(split, detections)
    return bootstrap_matching(matching, resamples=resamples, confidence=confidence, seed=seed)


def map_interval(
    split: DetectionSplit,
    detections: Sequence[Detections],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """The percentile bootstrap interval over evaluation images of AP@[.5:.95] (NaN, NaN where no object)."""
    return map_intervals(split, detections, resamples=resamples, confidence=confidence, seed=seed).map
