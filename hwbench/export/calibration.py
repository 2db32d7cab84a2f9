"""Calibration inputs for post-training quantization, and the held-out batch int8 fidelity is measured on.

A calibration source is a small dict that enters the export key of every export that reads it:
`{"source": "dataset", "dataset": NAME, "dataset_id": CONTENT_HASH}` when the sweep has a dataset, else
`{"source": "synthetic", "seed": 0}` (seeded standard-normal inputs, labelled as such). A dataset job also
carries `files` (not part of any key): one `.npy` of normalised N×C×H×W images per split, written by the
export stage (hwbench.pipeline.export.attach_images) or, for trained weights, by hwbench.accuracy.evaluate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hwbench.errors import HwbenchError

SYNTHETIC: dict[str, Any] = {"source": "synthetic", "seed": 0}
SPLITS = ("calibration", "validation")


def describe(calibration: dict[str, Any]) -> str:
    """A label for records and reports, e.g. "synthetic (standard-normal, seed 0)"."""
    if calibration.get("source") == "synthetic":
        return f"synthetic (standard-normal, seed {calibration.get('seed', 0)})"
    if calibration.get("source") == "dataset":
        return f"dataset {calibration.get('dataset')} (content {str(calibration.get('dataset_id'))[:12]})"
    return str(calibration.get("source"))


def calibration_inputs(calibration: dict[str, Any], shape: tuple[int, ...], n: int, split: str) -> np.ndarray:
    """`n` float32 inputs of `shape` (batch dimension replaced by n) from the source's `split`.

    The calibration and validation splits never share a sample, so int8 fidelity is measured on inputs
    the quantizer did not see.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    source = calibration.get("source")
    if source == "synthetic":
        rng = np.random.default_rng([int(calibration.get("seed", 0)), SPLITS.index(split)])
        return rng.standard_normal((n, *shape[1:]), dtype=np.float32)
    if source == "dataset":
        images = np.load(calibration["files"][split])[:n].astype(np.float32)
        if images.shape[1:] != tuple(shape[1:]):
            raise HwbenchError(f"{split} images of {describe(calibration)} are {images.shape[1:]}, not {shape[1:]}")
        return images
    raise HwbenchError(f"calibration source {source!r} is not supported; valid: synthetic, dataset")


def recorded(calibration: dict[str, Any]) -> dict[str, Any]:
    """The source as an export record keeps it (without the temporary file paths)."""
    return {k: v for k, v in calibration.items() if k != "files"}
