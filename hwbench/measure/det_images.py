"""The images a detector is timed and scored on, as one uint8 N×H×W×C `.npy` file (the split's images, raw).

The file travels like an artifact (content-addressed, uploaded to a board by hash) and is read on the measuring
side, so it is checked there as untrusted input: a plain `.npy` (never a pickle, never a zip), uint8, 4 dims,
1 or 3 channels, sizes within bounds. Normalisation happens here too, exactly as the detector was trained.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAGIC = b"\x93NUMPY"
MAX_IMAGES = 100_000
MAX_SIDE = 4096
CHANNELS = (1, 3)


class ImagesError(ValueError):
    """An images file that is not a plain uint8 N×H×W×C array within bounds."""


def read_images(path: str | Path) -> np.ndarray:
    """The checked images of a `.npy` file, memory-mapped (uint8 N×H×W×C); ImagesError names what is wrong."""
    name = Path(path).name
    with open(path, "rb") as f:
        head = f.read(len(MAGIC))
    if head != MAGIC:
        # np.load would open a zip (.npz) or, with allow_pickle, a pickle: only the plain array format is taken.
        raise ImagesError(f"images file {name}: not a .npy array file")
    try:
        images = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:  # object arrays end here, before anything is unpickled
        raise ImagesError(f"images file {name}: unreadable ({str(exc)[:200]})") from None
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ImagesError(f"images file {name}: expected uint8 N×H×W×C, got {images.dtype} with shape {images.shape}")
    n, height, width, channels = images.shape
    if channels not in CHANNELS:
        raise ImagesError(f"images file {name}: {channels} channels; expected 1 or 3")
    if not (1 <= n <= MAX_IMAGES and 1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise ImagesError(
            f"images file {name}: shape {images.shape} is out of bounds "
            f"(1-{MAX_IMAGES:,} images of 1-{MAX_SIDE} px a side)"
        )
    return images


def normalise(images: np.ndarray, mean: list[float], std: list[float]) -> np.ndarray:
    """uint8 N×H×W×C → float32 N×C×H×W, scaled to [0, 1] then standardised per channel (as in training)."""
    channels = images.shape[-1]
    if len(mean) != channels or len(std) != channels:
        raise ImagesError(f"mean/std have {len(mean)}/{len(std)} values for images of {channels} channels")
    m = np.asarray(mean, dtype=np.float32)[:, None, None]
    s = np.asarray(std, dtype=np.float32)[:, None, None]
    return ((np.asarray(images).transpose(0, 3, 1, 2).astype(np.float32) / 255.0) - m) / s
