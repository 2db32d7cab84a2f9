"""Real images for int8 calibration, from any registered dataset, preprocessed as the networks are fed.

`calibration_set("digits", 32, 224)` gives 32 training images (classes in proportion, never from the
validation split) at 224 px as float32 N×C×H×W, normalised with the training split's statistics: what an
int8 export of a sweep's (random-weight, latency) networks can calibrate on. Exports of trained weights use
`hwbench.accuracy.prepare.calibration_images`, which reads the already prepared split of the schedule.
"""

from __future__ import annotations

import numpy as np

from hwbench.accuracy.datasets import inspect_dataset, parse_dataset
from hwbench.accuracy.prepare import (
    convert_channels,
    holdout,
    normalisation,
    normalise,
    resize,
    stratified_order,
)


def calibration_set(
    dataset: str,
    n: int,
    resolution: int,
    channels: int = 3,
    normalize: str = "dataset",
    seed: int = 0,
    val_fraction: float = 0.2,
) -> np.ndarray:
    """n normalised training images of `dataset` (NAME[:PATH]) at `resolution`, float32 N×C×H×W."""
    ref = parse_dataset(dataset)
    inspect_dataset(ref)  # layout errors are the same clear one-liners as in a sweep
    raw = ref.definition.load(ref.path, resolution)
    x, y = raw.train_x, raw.train_y
    if raw.test_x is None:  # the same holdout the trainer uses: calibration never sees validation images
        train_idx, _ = holdout(y, val_fraction)
        x, y = x[train_idx], y[train_idx]
    x = convert_channels(x, channels)
    mean, std = normalisation(x, normalize)
    pick = np.sort(stratified_order(y, seed)[: min(n, len(y))])
    return normalise(resize(x[pick], resolution), mean, std)
