"""Packed detections round-trip exactly, and what a board sends back is checked before it is scored."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from hwbench.postprocess.packed import PackError, pack_detections, unpack_detections


def detections(seed: int, counts: list[int]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        (rng.random((n, 4), dtype=np.float32) * 100, rng.random(n, dtype=np.float32), rng.integers(0, 9, n))
        for n in counts
    ]


def test_round_trip_is_exact_including_empty_images() -> None:
    found = detections(0, [3, 0, 7, 1, 0])
    packed = pack_detections(found)
    assert packed["images"] == 5 and all(isinstance(v, str) for k, v in packed.items() if k != "images")
    back = unpack_detections(packed, 5)
    for (b, s, lab), (b2, s2, lab2) in zip(found, back, strict=True):
        assert np.array_equal(b, b2) and np.array_equal(s, s2) and np.array_equal(lab, lab2)
        assert b2.shape == (len(s), 4) and lab2.dtype == np.int64
    assert unpack_detections(pack_detections([]), 0) == []


def _with(packed: dict, name: str, values: np.ndarray) -> dict:
    return {**packed, name: base64.b64encode(values.tobytes()).decode()}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda p: {**p, "images": 3}, r"expected 2 images, got 3"),
        (lambda p: "not a dict", r"expected 2 images, got 'str'"),
        (lambda p: {k: v for k, v in p.items() if k != "scores"}, r"scores is missing"),
        (lambda p: {**p, "boxes": "***"}, r"boxes is not base64"),
        (lambda p: _with(p, "offsets", np.array([0, 3, 2], "<i8")), r"offsets are not a running count"),
        (lambda p: _with(p, "offsets", np.array([1, 2, 3], "<i8")), r"offsets are not a running count"),
        (lambda p: _with(p, "offsets", np.array([0, 3], "<i8")), r"offsets are not a running count"),
        (lambda p: _with(p, "offsets", np.array([0, 2, 2**40], "<i8")), r"boxes has 12 values for 1099511627776"),
        (lambda p: _with(p, "scores", np.array([0.5, np.nan, 1], "<f4")), r"non-finite"),
        (lambda p: {**p, "labels": base64.b64encode(b"12345").decode()}, r"5 bytes, not a whole number"),
    ],
)
def test_malformed_packs_are_refused(change, match: str) -> None:
    packed = pack_detections(detections(1, [1, 2]))
    with pytest.raises(PackError, match=match):
        unpack_detections(change(packed), 2)
