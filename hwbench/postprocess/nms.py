"""Non-maximum suppression and detection post-processing on the measuring side (numpy, no torch).

Local runners and the on-device agent share this one module, so the NMS a board runs is the NMS timed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.errors import ConfigError
from hwbench.postprocess.boxes import area, iou

PLACEMENTS = ("host", "graph")


@dataclass(frozen=True)
class NmsSettings:
    """Post-processing settings; part of the measurement key, since they set how much work NMS does."""

    score_threshold: float = 0.05  # a (box, class) pair is a candidate when its score is >= this
    iou_threshold: float = 0.5  # a box is suppressed when its IoU with a kept box of its class is > this
    pre_nms_top_k: int = 1000  # per class, candidates kept by score before NMS
    max_detections: int = 100  # over all classes, after NMS
    placement: str = "host"  # "host": numpy after the graph; "graph": ONNX NonMaxSuppression inside it

    def key(self) -> dict[str, Any]:
        """Plain dict for measurement keys and records."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, source: str | Path | None = None) -> NmsSettings:
        """Validated settings from a mapping (e.g. a target's `nms:` entry); errors name `nms.<field>`."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(source, "nms", f"expected a mapping, got {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        for key in data:
            if key not in names:
                raise ConfigError(source, f"nms.{key}", f"unknown setting; valid: {', '.join(names)}")
        for name in ("score_threshold", "iou_threshold"):
            value = data.get(name, getattr(cls, name))
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ConfigError(source, f"nms.{name}", f"must be a number in [0, 1], got {value!r}")
        for name in ("pre_nms_top_k", "max_detections"):
            value = data.get(name, getattr(cls, name))
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(source, f"nms.{name}", f"must be an integer >= 1, got {value!r}")
        placement = data.get("placement", cls.placement)
        if placement not in PLACEMENTS:
            raise ConfigError(
                source, "nms.placement", f"unknown placement {placement!r}; valid: {', '.join(PLACEMENTS)}"
            )
        return cls(**{k: float(v) if k.endswith("threshold") else v for k, v in data.items()})


@dataclass(frozen=True)
class Detections:
    """Detections of one image plus the counts that set the cost of post-processing."""

    boxes: np.ndarray  # [D, 4] float32 xyxy
    scores: np.ndarray  # [D] float32, descending
    labels: np.ndarray  # [D] int64 class ids
    indices: np.ndarray  # [D] int64: the box (anchor) each detection came from, e.g. for anchor pruning
    candidates: int  # (box, class) scores considered: N * C
    above_threshold: int  # (box, class) pairs with score >= score_threshold
    after_top_k: int  # of those, left after the per-class pre-NMS top-k
    after_nms: int  # left after per-class NMS
    kept: int  # returned, after the max_detections cap


# Boxes resolved against each other per step of `nms` (see there); 64 was fastest of 32-128 on random box sets.
BLOCK = 64


def _suppresses(a: np.ndarray, b: np.ndarray, area_a: np.ndarray, area_b: np.ndarray, thr: np.float32) -> np.ndarray:
    """[len(a), len(b)] bool: box a_i overlaps box b_j by IoU > thr."""
    return iou(a[:, None], b[None], area_a[:, None], area_b[None]) > thr


def _greedy(overlap: np.ndarray) -> list[int]:
    """Greedy NMS inside one block whose boxes are in score order, given their pairwise suppression matrix."""
    # Each row as a Python int bitmask: the sequential part then costs one shift and one OR per box.
    masks = [int.from_bytes(row.tobytes(), "little") for row in np.packbits(overlap, axis=1, bitorder="little")]
    kept, dead = [], 0
    for i, mask in enumerate(masks):
        if not (dead >> i) & 1:
            kept.append(i)
            dead |= mask
    return kept


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, block: int = BLOCK) -> np.ndarray:
    """Greedy NMS: indices of kept boxes, by descending score (ties: lower index first)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float32), kind="stable")
    boxes = boxes[order]
    areas = area(boxes)
    thr = np.float32(iou_threshold)  # compared in float32, as onnxruntime does
    keep: list[int] = []
    # The greedy pass in blocks: the next `block` live boxes are resolved among themselves (a small matrix), then
    # the kept ones suppress all later boxes at once, one IoU row per kept box. The same rows as one box at a
    # time, never the N×N matrix, but Python steps per block rather than per kept box: 2.5-7x faster at
    # 100-3,000 candidates than a row at a time (numpy's per-call overhead dominates small rows).
    while len(order):
        head = slice(0, block)
        kept = _greedy(_suppresses(boxes[head], boxes[head], areas[head], areas[head], thr))
        keep.extend(order[kept].tolist())
        if len(order) <= block:
            break
        hit = _suppresses(boxes[kept], boxes[block:], areas[kept], areas[block:], thr).any(axis=0)
        alive = np.flatnonzero(~hit) + block
        order, boxes, areas = order[alive], boxes[alive], areas[alive]
    return np.asarray(keep, dtype=np.int64)


def _empty(candidates: int) -> Detections:
    return Detections(
        boxes=np.zeros((0, 4), np.float32),
        scores=np.zeros(0, np.float32),
        labels=np.zeros(0, np.int64),
        indices=np.zeros(0, np.int64),
        candidates=candidates,
        above_threshold=0,
        after_top_k=0,
        after_nms=0,
        kept=0,
    )


def postprocess(boxes: np.ndarray, scores: np.ndarray, settings: NmsSettings) -> Detections:
    """Per-class NMS of one image's decoded boxes [N, 4] and class scores [N, C], then the top max_detections."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32)
    if scores.ndim != 2 or len(scores) != len(boxes):
        raise ValueError(f"scores must be [N, C] for {len(boxes)} boxes, got shape {scores.shape}")
    above = scores >= np.float32(settings.score_threshold)
    rows, cols = np.nonzero(above)
    return postprocess_candidates(boxes[rows], scores[rows, cols], cols, rows, scores.size, settings)


def postprocess_candidates(
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    rows: np.ndarray,
    candidates: int,
    settings: NmsSettings,
) -> Detections:
    """Per-class NMS of (box, class) candidates already over the score threshold: boxes [M, 4], scores [M],
    labels [M] and the box index `rows` [M] each came from (ascending within a class, as `np.nonzero` gives).

    `postprocess` runs through here, so a cached candidate list (anchor pruning's fast evaluation) gives exactly
    the detections of the full outputs it was taken from.
    """
    if len(rows) == 0:
        return _empty(candidates)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32)
    labels, rows = np.asarray(labels, dtype=np.int64), np.asarray(rows, dtype=np.int64)
    # A loop over classes rather than the coordinate-offset trick (shifting each class's boxes apart and running
    # one NMS): offsets of class × image size cost float32 precision, so IoUs near the threshold would differ from
    # onnxruntime's per-class NMS, and one shared NMS compares each kept box with every class's candidates
    # instead of its own class's. Classes without candidates cost nothing.
    by_class = np.lexsort((rows, labels))  # rows ascending within each class
    boxes, scores, labels, rows = boxes[by_class], scores[by_class], labels[by_class], rows[by_class]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    kept_at, after_top_k = [], 0
    for lo, hi in zip(starts, np.r_[starts[1:], len(rows)]):
        top = np.argsort(-scores[lo:hi], kind="stable")[: settings.pre_nms_top_k] + lo  # ties: lower box first
        after_top_k += len(top)
        kept_at.append(top[nms(boxes[top], scores[top], settings.iou_threshold)])
    at = np.concatenate(kept_at)
    # Stable over (class, then score within class): equal scores keep class order, as ONNX TopK keeps index order.
    final = at[np.argsort(-scores[at], kind="stable")[: settings.max_detections]]
    return Detections(
        boxes=boxes[final],
        scores=scores[final],
        labels=labels[final],
        indices=rows[final],
        candidates=candidates,
        above_threshold=len(rows),
        after_top_k=after_top_k,
        after_nms=len(at),
        kept=len(final),
    )
