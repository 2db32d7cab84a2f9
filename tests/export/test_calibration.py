"""Calibration inputs: seeded, disjoint splits, labelled, unknown sources refused."""

from pathlib import Path

import numpy as np
import pytest

from hwbench.errors import HwbenchError
from hwbench.export.calibration import SYNTHETIC, calibration_inputs, describe, recorded


def test_synthetic_is_seeded_and_splits_are_disjoint() -> None:
    a = calibration_inputs(SYNTHETIC, (1, 3, 8, 8), 4, "calibration")
    assert a.shape == (4, 3, 8, 8) and a.dtype == np.float32
    np.testing.assert_array_equal(a, calibration_inputs(SYNTHETIC, (1, 3, 8, 8), 4, "calibration"))
    b = calibration_inputs(SYNTHETIC, (1, 3, 8, 8), 4, "validation")
    assert not np.isin(b, a).any()
    other = calibration_inputs({"source": "synthetic", "seed": 1}, (1, 3, 8, 8), 4, "calibration")
    assert not np.array_equal(a, other)
    assert describe(SYNTHETIC) == "synthetic (standard-normal, seed 0)"


def test_dataset_source_reads_its_split_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    files = {}
    for split in ("calibration", "validation"):
        files[split] = str(tmp_path / f"{split}.npy")
        np.save(files[split], rng.standard_normal((5, 3, 8, 8)).astype(np.float32))
    source = {"source": "dataset", "dataset": "digits", "dataset_id": "0123456789abcdef", "files": files}
    got = calibration_inputs(source, (1, 3, 8, 8), 3, "validation")
    np.testing.assert_array_equal(got, np.load(files["validation"])[:3])
    assert describe(source) == "dataset digits (content 0123456789ab)"
    assert recorded(source) == {"source": "dataset", "dataset": "digits", "dataset_id": "0123456789abcdef"}
    wrong = r"calibration images of dataset digits \(content 0123456789ab\) are \(3, 8, 8\), not \(3, 16, 16\)"
    with pytest.raises(HwbenchError, match=wrong):
        calibration_inputs(source, (1, 3, 16, 16), 3, "calibration")


def test_unknown_source_and_split() -> None:
    with pytest.raises(HwbenchError, match="calibration source 'imagenet' is not supported"):
        calibration_inputs({"source": "imagenet"}, (1, 3, 8, 8), 2, "calibration")
    with pytest.raises(ValueError, match="split"):
        calibration_inputs(SYNTHETIC, (1, 3, 8, 8), 2, "test")
