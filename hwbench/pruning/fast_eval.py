"""Score an anchor set from the prediction cache: mask the removed anchors' candidates, run NMS, evaluate COCO mAP —
no forward pass (the paper's fast evaluation). Exact: the cache holds every candidate over the threshold."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwbench.postprocess.nms import Detections, NmsSettings, postprocess_candidates
from hwbench.pruning.cache import PredictionCache


@dataclass(frozen=True)
class Scored:
    """An anchor set's quality and the post-processing work it leaves per image."""

    metrics: dict[str, Any]
    above_threshold: list[int]  # per image, (box, class) candidates over the threshold
    kept: list[int]  # per image, detections after NMS and the cap


def detections(
    cache: PredictionCache, box_anchor: np.ndarray, removed: Iterable[int], settings: NmsSettings
) -> list[Detections]:
    """Every image's detections with the `removed` anchors' candidates masked out."""
    if settings.score_threshold < cache.score_threshold:
        raise ValueError(
            f"score threshold {settings.score_threshold} is below the cache's {cache.score_threshold}: "
            "candidates between the two were never cached"
        )
    gone = np.zeros(int(box_anchor.max(initial=-1)) + 1, bool)
    gone[list(removed)] = True
    out = []
    for i in range(len(cache)):
        c = cache.image(i)
        keep = ~gone[box_anchor[c.rows]] & (c.scores >= np.float32(settings.score_threshold))
        total = len(box_anchor) * int(cache.meta["classes"] or 0)
        out.append(postprocess_candidates(c.boxes[keep], c.scores[keep], c.labels[keep], c.rows[keep], total, settings))
    return out


def score(
    cache: PredictionCache, split: Any, box_anchor: np.ndarray, removed: Iterable[int], settings: NmsSettings
) -> Scored:
    """COCO metrics of the anchor set without `removed`, on the split the cache was built from."""
    from hwbench.accuracy.detection.cocoeval import evaluate_detections

    dets = detections(cache, box_anchor, removed, settings)
    metrics = evaluate_detections(split, [(d.boxes, d.scores, d.labels) for d in dets])
    return Scored(metrics, [d.above_threshold for d in dets], [d.kept for d in dets])
