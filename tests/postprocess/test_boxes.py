"""Box arithmetic: IoU against a plain-Python reference, the SSD coding by hand and as an inverse pair."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwbench.postprocess.boxes import LOG_SIZE_CLIP, area, clip, decode, encode, iou_matrix


def random_boxes(rng: np.random.Generator, n: int, size: float = 100.0) -> np.ndarray:
    """n valid xyxy boxes inside a size×size image (some degenerate: zero width or height)."""
    xy = rng.uniform(0, size * 0.8, (n, 2))
    wh = rng.uniform(0, size * 0.4, (n, 2))
    wh[rng.random(n) < 0.05, rng.integers(0, 2)] = 0.0
    return np.concatenate([xy, xy + wh], axis=1).astype(np.float32)


def iou_reference(a: list[float], b: list[float]) -> float:
    """IoU of two boxes with plain Python floats."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def test_iou_by_hand() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[5, 5, 15, 15], [10, 0, 20, 10], [0, 0, 10, 10], [2, 2, 4, 4]], np.float32)
    # 25 / 175, touching edges only, identical, contained (4 / 100)
    np.testing.assert_allclose(iou_matrix(a, b)[0], [25 / 175, 0.0, 1.0, 0.04], rtol=1e-6)
    assert iou_matrix(a, b).dtype == np.float32 and iou_matrix(b, a).shape == (4, 1)


@pytest.mark.parametrize("seed", range(5))
def test_iou_matrix_equals_a_plain_python_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = random_boxes(rng, 17), random_boxes(rng, 23)
    ref = [[iou_reference(x.tolist(), y.tolist()) for y in b] for x in a]
    np.testing.assert_allclose(iou_matrix(a, b), ref, rtol=1e-5, atol=1e-7)


def test_area_and_clip() -> None:
    boxes = np.array([[-5, -5, 10, 20], [90, 10, 130, 50], [3, 3, 1, 8]], np.float32)
    np.testing.assert_array_equal(area(boxes), [375.0, 1600.0, 0.0])  # a box with a negative side has no area
    np.testing.assert_array_equal(clip(boxes, 100), [[0, 0, 10, 20], [90, 10, 100, 50], [3, 3, 1, 8]])
    np.testing.assert_array_equal(clip(boxes, (15, 120))[:2], [[0, 0, 10, 15], [90, 10, 120, 15]])  # (h, w)


def test_encode_by_hand() -> None:
    anchors = np.array([[0, 0, 10, 10]], np.float32)  # centre (5, 5), size 10×10
    boxes = np.array([[2, 2, 12, 14]], np.float32)  # centre (7, 8), size 10×12
    deltas = encode(boxes, anchors)
    np.testing.assert_allclose(deltas, [[2.0, 3.0, 0.0, math.log(1.2) / 0.2]], rtol=1e-6, atol=1e-6)
    assert deltas.dtype == np.float32


@pytest.mark.parametrize("seed", range(3))
def test_decode_inverts_encode_with_a_batch_dimension(seed: int) -> None:
    rng = np.random.default_rng(seed)
    anchors = random_boxes(rng, 50) + np.array([0, 0, 1, 1], np.float32)  # positive sides
    boxes = np.stack([random_boxes(rng, 50) + np.array([0, 0, 1, 1], np.float32) for _ in range(3)])
    deltas = encode(boxes, anchors)
    assert deltas.shape == (3, 50, 4)
    np.testing.assert_allclose(decode(deltas, anchors), boxes, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(encode(decode(deltas, anchors), anchors), deltas, rtol=1e-4, atol=1e-3)


def test_decode_clamps_the_log_size_before_exp() -> None:
    anchors = np.array([[0, 0, 16, 16]], np.float32)
    out = decode(np.array([[0, 0, 1e4, -3.0]], np.float32), anchors)
    assert np.all(np.isfinite(out))
    width = out[0, 2] - out[0, 0]
    assert width == pytest.approx(16 * math.exp(LOG_SIZE_CLIP), rel=1e-5)  # 1000 px
    assert out[0, 3] - out[0, 1] == pytest.approx(16 * math.exp(-0.6), rel=1e-5)  # small sizes are not clamped
