"""`digits`: scikit-learn's 1,797 handwritten digits (8x8 grayscale, 10 classes), shipped inside the package.

It is the built-in offline dataset: it needs no path and no network, so the demo and the tests train on real
images anywhere. Images are scaled from 0..16 to 0..255; the schedule's resolution upsamples them.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from hwbench.accuracy.datasets import DATASETS, DatasetDef, DatasetInfo, RawData
from hwbench.errors import HwbenchError


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 N×8×8×1, labels int64) from scikit-learn's bundled copy (no download)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise HwbenchError(
            "the built-in dataset 'digits' needs scikit-learn (pip install 'hwbench[host]' or scikit-learn)"
        ) from None
    data = load_digits()
    images = np.rint(data.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images, data.target.astype(np.int64)


def inspect_digits(path: Path | None) -> DatasetInfo:
    """1,797 images, 10 classes, no official test split (a seeded holdout is used)."""
    images, labels = _digits()
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    return DatasetInfo(tuple(str(i) for i in range(10)), 1, len(images), 0, digest)


def load_digits_data(path: Path | None, size: int) -> RawData:
    """All images as the training pool."""
    images, labels = _digits()
    return RawData(images, labels)


DATASETS.register("digits")(
    DatasetDef(
        name="digits",
        description="scikit-learn's handwritten digits, 1,797 8x8 grayscale images, 10 classes (built in, offline)",
        layout="(built in; no path)",
        inspect=inspect_digits,
        load=load_digits_data,
        needs_path=False,
        hflip=False,
    )
)
