"""Detections of many images in a compact, JSON-safe form: concatenated float32/int32 arrays (base64) + offsets.

A board returns the detections of every image it scored; as JSON lists that would be megabytes of digits. Both
sides use this module, and the receiving side checks what it unpacks (lengths, offsets, finite values), since the
bytes crossed a network.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np

Detections = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes [D, 4], scores [D], labels [D]
# Arrays of the packed form: name → (dtype, values per detection). Little-endian on the wire, whatever the board.
FIELDS = {"boxes": ("<f4", 4), "scores": ("<f4", 1), "labels": ("<i4", 1)}


class PackError(ValueError):
    """Packed detections that do not describe `images` images consistently."""


def pack_detections(detections: Sequence[Detections]) -> dict[str, Any]:
    """Per-image (boxes, scores, labels) → {"images", "offsets", "boxes", "scores", "labels"} (base64 strings)."""
    counts = [len(np.asarray(scores).reshape(-1)) for _, scores, _ in detections]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype("<i8")
    packed: dict[str, Any] = {"images": len(detections), "offsets": _b64(offsets)}
    for k, (name, (dtype, width)) in enumerate(FIELDS.items()):
        parts = [np.asarray(d[k], dtype=dtype).reshape(-1, width) for d in detections]
        joined = np.concatenate(parts) if parts else np.zeros((0, width), dtype)
        packed[name] = _b64(joined)
    return packed


def unpack_detections(packed: Any, images: int) -> list[Detections]:
    """The inverse of pack_detections, checked: exactly `images` images, consistent offsets, finite values."""
    if not isinstance(packed, dict) or packed.get("images") != images:
        got = packed.get("images") if isinstance(packed, dict) else type(packed).__name__
        raise PackError(f"packed detections: expected {images} images, got {got!r}")
    offsets = _array(packed, "offsets", "<i8")
    if len(offsets) != images + 1 or offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        raise PackError("packed detections: offsets are not a running count over the images")
    total = int(offsets[-1])
    arrays = {}
    for name, (dtype, width) in FIELDS.items():
        values = _array(packed, name, dtype)
        if len(values) != total * width:
            raise PackError(f"packed detections: {name} has {len(values)} values for {total} detections")
        arrays[name] = values.reshape(total, width) if width > 1 else values
    if not (np.isfinite(arrays["boxes"]).all() and np.isfinite(arrays["scores"]).all()):
        raise PackError("packed detections: non-finite boxes or scores")
    cut = [slice(int(offsets[i]), int(offsets[i + 1])) for i in range(images)]
    return [(arrays["boxes"][s], arrays["scores"][s], arrays["labels"][s].astype(np.int64)) for s in cut]


def _b64(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values).tobytes()).decode("ascii")


def _array(packed: dict[str, Any], name: str, dtype: str) -> np.ndarray:
    text = packed.get(name)
    if not isinstance(text, str):
        raise PackError(f"packed detections: {name} is missing")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise PackError(f"packed detections: {name} is not base64") from None
    size = np.dtype(dtype).itemsize
    if len(raw) % size:
        raise PackError(f"packed detections: {name} is {len(raw)} bytes, not a whole number of {dtype} values")
    return np.frombuffer(raw, dtype=dtype)
