"""Box arithmetic in float32: areas, IoU, clipping and the SSD box coding shared by training and decoding.

Boxes are (x1, y1, x2, y2) pixel coordinates with x1 <= x2 and y1 <= y2. Standard library and numpy only: the
on-device agent runs this module.
"""

from __future__ import annotations

import math

import numpy as np

# SSD variances: centre offsets in units of 0.1 anchor sizes, log-sizes in units of 0.2.
VARIANCES = (0.1, 0.1, 0.2, 0.2)
# Largest log-size change decoded (as torchvision): keeps exp() finite for wild untrained deltas.
LOG_SIZE_CLIP = math.log(1000.0 / 16)


def _f32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def area(boxes: np.ndarray) -> np.ndarray:
    """Area of each box [..., 4] -> [...] (0 for a box with a negative side)."""
    b = _f32(boxes)
    return np.maximum(b[..., 2] - b[..., 0], 0) * np.maximum(b[..., 3] - b[..., 1], 0)


def iou(a: np.ndarray, b: np.ndarray, area_a: np.ndarray | None = None, area_b: np.ndarray | None = None) -> np.ndarray:
    """IoU of boxes a [..., 4] and b [..., 4], broadcast against each other; 0 where the union is empty."""
    a, b = _f32(a), _f32(b)
    area_a = area(a) if area_a is None else area_a
    area_b = area(b) if area_b is None else area_b
    w = np.maximum(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0)
    h = np.maximum(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0)
    inter = w * h
    # Same float32 operations in the same order as onnxruntime's NonMaxSuppression ((a1 + a2) - inter), so host
    # and in-graph NMS agree bit for bit on boxes near the IoU threshold.
    union = area_a + area_b - inter
    out = np.zeros(np.broadcast(inter, union).shape, dtype=np.float32)
    return np.divide(inter, union, out=out, where=union > 0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of a [Na, 4] and b [Nb, 4] -> [Na, Nb]."""
    a, b = _f32(a).reshape(-1, 4), _f32(b).reshape(-1, 4)
    return iou(a[:, None, :], b[None, :, :])


def clip(boxes: np.ndarray, size: float | tuple[float, float]) -> np.ndarray:
    """Boxes clipped to an image of `size` (S for S×S, or (height, width))."""
    h, w = (size, size) if np.isscalar(size) else size
    b = _f32(boxes).copy()
    b[..., 0::2] = np.clip(b[..., 0::2], 0, w)
    b[..., 1::2] = np.clip(b[..., 1::2], 0, h)
    return b


def _centre_size(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    b = _f32(boxes)
    w = b[..., 2] - b[..., 0]
    h = b[..., 3] - b[..., 1]
    return b[..., 0] + 0.5 * w, b[..., 1] + 0.5 * h, w, h


def encode(boxes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Deltas [..., N, 4] that move each anchor [N, 4] onto its box [..., N, 4] (both need positive sides)."""
    gx, gy, gw, gh = _centre_size(boxes)
    ax, ay, aw, ah = _centre_size(anchors)
    vx, vy, vw, vh = VARIANCES
    deltas = ((gx - ax) / (vx * aw), (gy - ay) / (vy * ah), np.log(gw / aw) / vw, np.log(gh / ah) / vh)
    return np.stack(deltas, axis=-1).astype(np.float32)


def decode(deltas: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Boxes [..., N, 4] xyxy from deltas [..., N, 4] on anchors [N, 4]; the inverse of `encode`."""
    d = _f32(deltas)
    ax, ay, aw, ah = _centre_size(anchors)
    vx, vy, vw, vh = VARIANCES
    cx = d[..., 0] * vx * aw + ax
    cy = d[..., 1] * vy * ah + ay
    w = np.exp(np.minimum(d[..., 2] * vw, LOG_SIZE_CLIP)) * aw
    h = np.exp(np.minimum(d[..., 3] * vh, LOG_SIZE_CLIP)) * ah
    return np.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), axis=-1).astype(np.float32)
