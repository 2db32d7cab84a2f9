"""`digits-det`: scikit-learn's bundled handwritten digits pasted onto 128×128 canvases (built in, offline).

Each canvas has 1-4 digits, each scaled to 10-60% of the canvas side (13-77 px, aspect jittered ±25%) so every
pyramid level of a small detector gets objects, in a random colour over light colour noise. Digits may overlap
(IoU up to 0.3, and never more than half of either box covered) and are blended by maximum, so both stay
visible. A box is the tight box of the digit's strokes as pasted (pixels above a quarter of full ink).
Train and test canvases draw their glyphs from disjoint halves of scikit-learn's 1,797 digits. Generation is
seeded and uses only elementwise numpy arithmetic, so the bytes (and the fingerprint) are the same every run.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from hwbench.accuracy.detection.data import (
    DETECTION_DATASETS,
    DetectionData,
    DetectionDatasetDef,
    DetectionInfo,
    DetectionSplit,
)
from hwbench.errors import HwbenchError

CANVAS = 128
SPLIT_SIZES = {"train": 800, "test": 200}
SEED = 13
DIGITS_PER_IMAGE = (1, 4)
SIDE_FRACTION = (0.10, 0.60)
ASPECT_JITTER = 0.25
MAX_IOU = 0.3
MAX_COVERED = 0.5
INK_THRESHOLD = 4.0  # of scikit-learn's 0..16 ink scale: the stroke edge that the box is tight around
NOISE_MAX = 40
PLACEMENT_TRIES = 20
CLASSES = tuple(str(i) for i in range(10))


def _glyphs() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as float64 [N, 8, 8] ink in 0..16 and int64 labels (no download)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise HwbenchError(
            "the built-in dataset 'digits-det' needs scikit-learn (pip install 'hwbench[host]' or scikit-learn)"
        ) from None
    data = load_digits()
    return data.images.astype(np.float64), data.target.astype(np.int64)


def _resize(glyph: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear upscaling (half-pixel centres) by elementwise arithmetic only, so results never depend on BLAS."""

    def axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(np.int64)
        return lo, np.minimum(lo + 1, n_in - 1), pos - lo

    y0, y1, fy = axis(height, glyph.shape[0])
    x0, x1, fx = axis(width, glyph.shape[1])
    top = glyph[y0][:, x0] * (1 - fx) + glyph[y0][:, x1] * fx
    bottom = glyph[y1][:, x0] * (1 - fx) + glyph[y1][:, x1] * fx
    return top * (1 - fy)[:, None] + bottom * fy[:, None]


def _fits(box: np.ndarray, placed: list[np.ndarray]) -> bool:
    """Whether `box` overlaps every placed box little enough for both digits to stay readable."""
    for other in placed:
        iw = min(box[2], other[2]) - max(box[0], other[0])
        ih = min(box[3], other[3]) - max(box[1], other[1])
        if iw <= 0 or ih <= 0:
            continue
        inter = iw * ih
        areas = ((box[2] - box[0]) * (box[3] - box[1]), (other[2] - other[0]) * (other[3] - other[1]))
        if inter / (sum(areas) - inter) > MAX_IOU or inter > MAX_COVERED * min(areas):
            return False
    return True


def _canvas(rng: np.random.Generator, glyphs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, ...]:
    """One image (uint8 128×128×3) with its tight boxes and labels."""
    canvas = rng.integers(0, NOISE_MAX, (CANVAS, CANVAS, 3)).astype(np.float64)
    boxes: list[np.ndarray] = []
    classes: list[int] = []
    for _ in range(int(rng.integers(DIGITS_PER_IMAGE[0], DIGITS_PER_IMAGE[1] + 1))):
        pick = int(rng.integers(len(glyphs)))
        height = round(rng.uniform(*SIDE_FRACTION) * CANVAS)
        width = min(CANVAS, round(height * rng.uniform(1 - ASPECT_JITTER, 1 + ASPECT_JITTER)))
        patch = _resize(glyphs[pick], height, width)
        rows, cols = np.nonzero((patch > INK_THRESHOLD).any(1))[0], np.nonzero((patch > INK_THRESHOLD).any(0))[0]
        color = rng.uniform(0.55, 1.0, 3)
        for _ in range(PLACEMENT_TRIES):
            y, x = int(rng.integers(0, CANVAS - height + 1)), int(rng.integers(0, CANVAS - width + 1))
            box = np.array([x + cols[0], y + rows[0], x + cols[-1] + 1, y + rows[-1] + 1], np.float32)
            if _fits(box, boxes):
                ink = patch[..., None] * (255.0 / 16.0) * color
                canvas[y : y + height, x : x + width] = np.maximum(canvas[y : y + height, x : x + width], ink)
                boxes.append(box)
                classes.append(int(labels[pick]))
                break
    image = np.rint(np.clip(canvas, 0, 255)).astype(np.uint8)
    return image, np.array(boxes, np.float32).reshape(-1, 4), np.array(classes, np.int64)


@lru_cache(maxsize=1)
def generate() -> dict[str, DetectionSplit]:
    """Both splits at the canvas size (cached: generation takes well under a second)."""
    glyphs, labels = _glyphs()
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(glyphs))
    pools = {"train": order[: len(order) // 2], "test": order[len(order) // 2 :]}
    splits = {}
    for split, count in SPLIT_SIZES.items():
        items = [_canvas(rng, glyphs[pools[split]], labels[pools[split]]) for _ in range(count)]
        splits[split] = DetectionSplit(
            CLASSES,
            np.stack([item[0] for item in items]),
            [item[1] for item in items],
            [item[2] for item in items],
            tuple(f"{split}-{i:04d}" for i in range(count)),
            np.full((count, 2), CANVAS, np.int64),
        )
    return splits


def _fingerprint(splits: dict[str, DetectionSplit]) -> str:
    digest = hashlib.sha256()
    for split in splits.values():
        digest.update(split.images.tobytes())
        for boxes, labels in zip(split.boxes, split.labels):
            digest.update(boxes.tobytes() + labels.tobytes() + b"\0")
    return digest.hexdigest()


def inspect_digits_det(path: Path | None) -> DetectionInfo:
    """800 train and 200 test canvases, 10 classes, a fingerprint of the generated arrays."""
    splits = generate()
    return DetectionInfo(
        CLASSES,
        len(splits["train"]),
        len(splits["test"]),
        _fingerprint(splits),
        splits["train"].num_boxes,
        splits["test"].num_boxes,
    )


def _at_size(split: DetectionSplit, size: int) -> DetectionSplit:
    """The split resized to size×size (a copy, so callers cannot change the cached canvases)."""
    if size == CANVAS:
        images = split.images.copy()
    else:
        from PIL import Image

        resample = Image.Resampling.BILINEAR
        images = np.stack([np.asarray(Image.fromarray(img).resize((size, size), resample)) for img in split.images])
    scale = np.float32(size / CANVAS)
    return DetectionSplit(
        split.classes,
        images,
        [b * scale for b in split.boxes],
        [lab.copy() for lab in split.labels],
        split.image_ids,
        split.orig_sizes.copy(),
    )


def load_digits_det(path: Path | None, size: int) -> DetectionData:
    """Both splits at size×size (plain resize of the 128×128 canvases, boxes scaled with them)."""
    splits = generate()
    return DetectionData(_at_size(splits["train"], size), _at_size(splits["test"], size), CLASSES)


DETECTION_DATASETS.register("digits-det")(
    DetectionDatasetDef(
        name="digits-det",
        description=(
            "scikit-learn's digits pasted at 13-77 px on 128x128 canvases, 1-4 per image, some overlapping; "
            "800 train / 200 test images, 10 classes (built in, offline)"
        ),
        layout="(built in; no path)",
        inspect=inspect_digits_det,
        load=load_digits_det,
        needs_path=False,
    )
)
