"""Latency per input image at batch 1, for artifacts whose cost follows the image (token-reduced ViTs in their
`dynamic` form): round-robin over the images, each timed in every round, median per image.

Round-robin (a seeded new order each round) rather than one protocol per image keeps slow drift of the machine
from favouring the images timed first. Standard library and numpy only: the agent side may run it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

# Rounds over the images: the per-image median of 7 runs, unless `max_seconds` stops earlier (at least 1 round).
ROUNDS = 7


def as_input(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """One C×H×W image as the artifact's batch-1 input (NCHW, or NHWC when the artifact takes that)."""
    c, h, w = image.shape
    if tuple(shape) == (1, c, h, w):
        return np.ascontiguousarray(image[None], dtype=np.float32)
    if tuple(shape) == (1, h, w, c):
        return np.ascontiguousarray(image.transpose(1, 2, 0)[None], dtype=np.float32)
    raise ValueError(f"the artifact takes {tuple(shape)}; the per-image inputs are {c}×{h}×{w} at batch 1")


def time_per_input(
    prepare: Callable[[list[np.ndarray]], Callable[[], Any]],
    shape: tuple[int, ...],
    images: np.ndarray,
    rounds: int = ROUNDS,
    max_seconds: float = 20.0,
    seed: int = 0,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> dict[str, Any]:
    """Time every image of `images` (N×C×H×W) at batch 1; return the distribution of per-image medians (ms)."""
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"per-image inputs must be a non-empty N×C×H×W array, got shape {images.shape}")
    inputs = [[as_input(img, shape)] for img in images]
    begin = clock()
    for batch in inputs:  # warm-up: each image once (a new token count may allocate new buffers)
        prepare(batch)()
    rng = np.random.default_rng(seed)
    samples = np.full((rounds, len(inputs)), np.nan)
    done = 0
    for r in range(rounds):
        for i in rng.permutation(len(inputs)):
            # Bound just before its run, outside the timed span: TFLite and OpenVINO sessions bind inputs into
            # one shared buffer, so calls prepared up front would all run the last image.
            call = prepare(inputs[i])
            t0 = clock()
            call()
            samples[r, i] = (clock() - t0) / 1e6
        done = r + 1
        if clock() - begin >= max_seconds * 1e9:
            break
    per_image = np.median(samples[:done], axis=0)
    p10, median, p90 = (float(v) for v in np.percentile(per_image, [10, 50, 90]))
    return {
        "count": len(inputs),
        "rounds": done,
        "median_ms": median,
        "p10_ms": p10,
        "p90_ms": p90,
        "min_ms": float(per_image.min()),
        "max_ms": float(per_image.max()),
        "image_median_ms": [round(float(v), 4) for v in per_image],
        # Typical spread of one image's timings across rounds: lets the analysis separate measurement noise
        # from image-to-image variation in the per-image medians (hwbench.analysis.tokens).
        "round_sd_ms": float(np.median(np.std(samples[:done], axis=0, ddof=1))) if done >= 2 else None,
        "seconds": (clock() - begin) / 1e9,
    }
