"""A bootstrap over evaluation images of COCO AP@[.5:.95] and AP50, with BCa (bias-corrected, accelerated)
percentile intervals.

The evaluator runs once (hwbench.accuracy.detection.cocoeval); its per-image matching (coco_matches) is then
re-accumulated under each resample's image multiplicities w_i, without matching again: an image drawn w times
adds w copies of each of its detections and objects. Copies of one detection sit next to each other in score
order and are all true or all false positives, so counting them as one step of weight w gives COCO's
101-point AP exactly; with every w_i = 1 it is the evaluator's own AP (tests check both).

Only true positives matter for interpolated AP: the 101 recall points are reached at true positives, and the
precision envelope's maxima lie at them, so each category and threshold needs, per true positive, the weighted
true positives up to it and false positives before it: running sums of the image weights in score order, the
detections that are false at every threshold (most of them) summed once per category.

The interval describes the uncertainty from the finite set of evaluation images (another draw of images from
the same population would give another mAP), not the variance over training seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from hwbench.accuracy.detection.coco_matches import IOU_THRESHOLDS, Matches, Matching, match_detections
from hwbench.accuracy.detection.cocoeval import Detections
from hwbench.accuracy.detection.data import DetectionSplit

RECALL_POINTS = np.linspace(0.0, 1.0, 101)  # COCO's, built as its evaluator builds them (same doubles)
JACKKNIFE_GROUPS = 200  # leave-one-out up to this many images; beyond, this many groups
_CHUNK = 4_000_000  # (resamples × detections) elements per step: bounds memory on large evaluation sets


@dataclass(frozen=True)
class MapIntervals:
    """Bootstrap intervals and standard errors of AP@[.5:.95] and AP50 over evaluation images."""

    map: tuple[float, float]
    map50: tuple[float, float]
    map_se: float
    map50_se: float
    resamples: int  # replicates that had at least one object (the others have no AP and are left out)


def accumulate(matching: Matching, weights: np.ndarray | None = None) -> np.ndarray:
    """(B, T) COCO AP at each IoU threshold, averaged over the categories that have objects in each replicate
    (NaN where none has), for (B, images) image multiplicities (None: every image once, B = 1)."""
    w = np.ones((1, matching.images)) if weights is None else np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != matching.images:
        raise ValueError(f"weights of shape {w.shape} for {matching.images} images")
    total = np.zeros((w.shape[0], IOU_THRESHOLDS.size))
    counted = np.zeros(w.shape[0])
    for objects, matches in zip(matching.objects, matching.categories):
        npig = w @ objects.astype(float)  # non-ignored objects in each replicate
        present = npig > 0
        if not present.any():
            continue
        ap = category_ap(matches, w, npig)
        total[present] += ap[present]
        counted += present
    with np.errstate(invalid="ignore"):
        return total / counted[:, None]


def category_ap(matches: Matches, w: np.ndarray, npig: np.ndarray) -> np.ndarray:
    """(B, T) 101-point interpolated AP of one category under (B, images) weights w, npig its weighted objects."""
    out = np.zeros((w.shape[0], IOU_THRESHOLDS.size))
    # Most detections are false at every threshold (low-score clutter): their running weight is summed once.
    clutter = matches.fp.all(axis=0)
    at_clutter = np.flatnonzero(clutter)
    step = max(1, _CHUNK // max(at_clutter.size + 1, matches.tp.sum(axis=1).max(initial=0), 1))
    for start in range(0, w.shape[0], step):
        rows = slice(start, start + step)
        clutter_fp = _running(w[rows], matches.image[at_clutter])
        for t in range(IOU_THRESHOLDS.size):
            hits = np.flatnonzero(matches.tp[t])
            if hits.size == 0:
                continue
            misses = np.flatnonzero(matches.fp[t] & ~clutter)
            tp = _running(w[rows], matches.image[hits])[:, 1:]
            fp = _running(w[rows], matches.image[misses])[:, np.searchsorted(misses, hits)]
            fp += clutter_fp[:, np.searchsorted(at_clutter, hits)]
            out[rows, t] = _interpolated_ap(tp, fp, npig[rows])
    return out


def _running(w: np.ndarray, image: np.ndarray) -> np.ndarray:
    """(B, D + 1) running weight of a score-ordered list of detections from the given images, from 0."""
    out = np.zeros((w.shape[0], image.size + 1))
    np.cumsum(w[:, image], axis=1, out=out[:, 1:])
    return out


def _interpolated_ap(tp: np.ndarray, fp: np.ndarray, npig: np.ndarray) -> np.ndarray:
    """(B,) AP from (B, P) weighted true and false positives at each true positive: mean over the 101 recall points
    of the best precision at recall ≥ the point. A true positive whose image is not drawn repeats the previous
    recall with lower precision, so it changes nothing."""
    precision = tp / (tp + fp + np.spacing(1))  # COCO's guard against 0/0
    recall = tp / np.where(npig > 0, npig, np.inf)[:, None]  # a replicate without objects is dropped later
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    reached = recall_points_reached(recall)
    gained = reached.copy()  # recall points first reached at each true positive
    gained[:, 1:] -= reached[:, :-1]
    return (envelope * gained).sum(axis=1) / RECALL_POINTS.size


def recall_points_reached(recall: np.ndarray) -> np.ndarray:
    """How many of COCO's recall points are ≤ each recall: searchsorted(RECALL_POINTS, recall, "right"), by
    arithmetic and one correction either way (3× faster than the binary search on the bootstrap's arrays)."""
    last = RECALL_POINTS.size - 1
    k = np.clip(np.floor(recall * last).astype(np.int64), 0, last)
    k -= RECALL_POINTS[k] > recall
    k += (k < last) & (RECALL_POINTS[np.minimum(k + 1, last)] <= recall)
    return k + 1


def resample_weights(images: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, images) multiplicities of a bootstrap over images: each row a multinomial draw of `images`."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, images, (resamples, images))
    rows = np.arange(resamples)[:, None] * images
    return np.bincount((pick + rows).ravel(), minlength=resamples * images).reshape(resamples, images).astype(float)


def jackknife_weights(images: int) -> np.ndarray:
    """(g, images) weights leaving out one group of images each: every image alone up to JACKKNIFE_GROUPS images,
    beyond that JACKKNIFE_GROUPS interleaved groups (the acceleration needs no finer split)."""
    groups = min(images, JACKKNIFE_GROUPS)
    weights = np.ones((groups, images))
    weights[np.arange(images) % groups, np.arange(images)] = 0.0
    return weights


def bca_levels(boot: np.ndarray, estimate: float, jack: np.ndarray, confidence: float) -> tuple[float, float]:
    """Quantile levels of the BCa interval: the percentile levels moved by the bootstrap's median bias (z0) and by
    the jackknife's skewness of the estimator (acceleration a), as Efron and Tibshirani define them."""
    normal = NormalDist()
    below = (np.sum(boot < estimate) + 0.5 * np.sum(boot == estimate)) / boot.size
    z0 = normal.inv_cdf(float(np.clip(below, 0.5 / boot.size, 1 - 0.5 / boot.size)))
    jack = jack[np.isfinite(jack)]
    spread = jack.mean() - jack if jack.size > 1 else np.zeros(1)
    scale = float(np.sum(spread**2)) ** 1.5
    a = float(np.sum(spread**3)) / (6 * scale) if scale > 0 else 0.0
    levels = []
    for tail in ((1 - confidence) / 2, (1 + confidence) / 2):
        z = z0 + normal.inv_cdf(tail)
        levels.append(normal.cdf(z0 + z / (1 - a * z)) if a * z < 1 else float(tail > 0.5))
    return levels[0], levels[1]


def bootstrap_matching(
    matching: Matching, *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0, method: str = "bca"
) -> MapIntervals:
    """Intervals of AP@[.5:.95] and AP50 over `resamples` bootstrap draws of the images: BCa (bias-corrected and
    accelerated percentiles, the default: AP on few images reads high, and the plain percentile interval then
    misses the truth mostly on one side) or the plain `percentile` interval."""
    if resamples < 1 or not 0 < confidence < 1 or method not in ("bca", "percentile"):
        raise ValueError(
            f"resamples must be ≥ 1, confidence in (0, 1) and method bca or percentile, "
            f"got {resamples}, {confidence} and {method!r}"
        )
    if matching.images == 0:
        raise ValueError("no evaluation images to resample")
    point = accumulate(matching)[0]
    ap = accumulate(matching, resample_weights(matching.images, resamples, seed))
    ap = ap[np.isfinite(ap).all(axis=1)]
    if ap.shape[0] == 0 or not np.isfinite(point).all():
        nan = (float("nan"), float("nan"))
        return MapIntervals(nan, nan, float("nan"), float("nan"), 0)
    whole, at50 = ap.mean(axis=1), ap[:, 0]
    tails = ((1 - confidence) / 2, (1 + confidence) / 2)
    levels, levels50 = tails, tails
    if method == "bca":
        jack = accumulate(matching, jackknife_weights(matching.images))
        levels = bca_levels(whole, float(point.mean()), jack.mean(axis=1), confidence)
        levels50 = bca_levels(at50, float(point[0]), jack[:, 0], confidence)
    lo, hi = np.quantile(whole, levels)
    lo50, hi50 = np.quantile(at50, levels50)
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
    """The bootstrap (BCa) interval over evaluation images of AP@[.5:.95] (NaN, NaN where there is no object)."""
    return map_intervals(split, detections, resamples=resamples, confidence=confidence, seed=seed).map
