"""Calibration inputs: seeded, disjoint splits, labelled, unknown sources refused."""

import numpy as np
import pytest

from hwbench.errors import HwbenchError
from hwbench.export.calibration import SYNTHETIC, calibration_inputs, describe


def test_synthetic_is_seeded_and_splits_are_disjoint() -> None:
    a = calibration_inputs(SYNTHETIC, (1, 3, 8, 8), 4, "calibration")
    assert a.shape == (4, 3, 8, 8) and a.dtype == np.float32
    np.testing.assert_array_equal(a, calibration_inputs(SYNTHETIC, (1, 3, 8, 8), 4, "calibration"))
    b = calibration_inputs(SYNTHETIC, (1, 3, 8, 8), 4, "validation")
    assert not np.isin(b, a).any()
    other = calibration_inputs({"source": "synthetic", "seed": 1}, (1, 3, 8, 8), 4, "calibration")
    assert not np.array_equal(a, other)
    assert "synthetic" in describe(SYNTHETIC) and "no dataset" in describe(SYNTHETIC)


def test_unknown_source_and_split() -> None:
    with pytest.raises(HwbenchError, match="calibration source 'imagenet' is not supported"):
        calibration_inputs({"source": "imagenet"}, (1, 3, 8, 8), 2, "calibration")
    with pytest.raises(ValueError, match="split"):
        calibration_inputs(SYNTHETIC, (1, 3, 8, 8), 2, "test")
