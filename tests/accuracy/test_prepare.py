"""Preparing a dataset for a schedule: the fixed split, subsets, channels, resolution, normalisation, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwbench.accuracy.datasets import parse_dataset
from hwbench.accuracy.prepare import (
    calibration_images,
    convert_channels,
    holdout,
    normalise,
    prepare,
    resize,
    stratified_order,
)
from hwbench.accuracy.schedule import load_schedule
from hwbench.errors import ConfigError
from tests.accuracy.layouts import write_idx, write_imagefolder


def schedule(tmp_path: Path, extra: str = "", resolution: int = 16, batch: int = 16):
    path = tmp_path / "sched.yaml"
    path.write_text(f"epochs: 1\nbatch_size: {batch}\nresolution: {resolution}\n{extra}")
    return load_schedule(path)


def test_holdout_is_fixed_stratified_and_disjoint() -> None:
    labels = np.repeat(np.arange(4), [10, 20, 30, 40])
    train, val = holdout(labels, 0.2)
    again = holdout(labels, 0.2)
    assert np.array_equal(val, again[1]) and not set(train) & set(val) and len(train) + len(val) == 100
    assert np.bincount(labels[val]).tolist() == [2, 4, 6, 8]


def test_stratified_prefixes_keep_class_proportions() -> None:
    labels = np.repeat(np.arange(2), [30, 70])
    order = stratified_order(labels, 0)
    assert sorted(order) == list(range(100))
    assert np.bincount(labels[order[:10]]).tolist() == [3, 7]


def test_digits_prepared_at_32px_with_holdout(tmp_path: Path) -> None:
    data = prepare(parse_dataset("digits"), schedule(tmp_path, resolution=32), 3, tmp_path / "out")
    assert data.sizes == {"train": 1438, "val": 359} and data.hflip is False
    x = np.load(data.files["train_x"])
    assert x.shape == (1438, 32, 32, 3) and x.dtype == np.uint8
    assert np.array_equal(x[..., 0], x[..., 2])  # grayscale repeated
    z = normalise(x, data.mean, data.std)
    assert z.shape == (1438, 3, 32, 32) and abs(float(z.mean())) < 1e-3 and abs(float(z.std()) - 1) < 1e-2
    again = prepare(parse_dataset("digits"), schedule(tmp_path, resolution=32), 3, tmp_path / "out2")
    assert again.dataset_id == data.dataset_id and np.array_equal(
        np.load(again.files["val_y"]), np.load(data.files["val_y"])
    )


def test_official_test_split_subsets_and_flip(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "m", train=60, test=20)
    sched = schedule(tmp_path, "train_images: 30\nval_images: 10\naugment: {hflip: true}\n", resolution=14, batch=8)
    data = prepare(parse_dataset(f"fashion-mnist:{path}"), sched, 1, tmp_path / "out")
    assert data.sizes == {"train": 30, "val": 10} and data.hflip is True
    assert np.bincount(np.load(data.files["train_y"])).tolist() == [3] * 10
    assert np.load(data.files["val_x"]).shape == (10, 14, 14, 1)
    calib = calibration_images(data, 8)
    assert calib.shape == (8, 1, 14, 14) and calib.dtype == np.float32


def test_channels_and_resize() -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (2, 8, 8, 3), dtype=np.uint8)
    assert convert_channels(rgb, 1).shape == (2, 8, 8, 1)
    assert convert_channels(rgb[..., :1], 3).shape == (2, 8, 8, 3)
    flat = np.full((1, 8, 8, 1), 77, np.uint8)
    assert np.all(resize(flat, 20) == 77) and np.all(resize(np.full((1, 40, 40, 1), 77, np.uint8), 20) == 77)


def test_too_small_for_the_batch_or_the_holdout(tmp_path: Path) -> None:
    path = write_imagefolder(tmp_path / "f", classes=2, per_class=3)
    with pytest.raises(ConfigError, match=r"sched.yaml: batch_size: 16 is more than the 4 training images"):
        prepare(parse_dataset(f"imagefolder:{path}"), schedule(tmp_path, "val_fraction: 0.34\n"), 3, tmp_path / "o")
    with pytest.raises(ConfigError, match="the validation split is empty"):
        prepare(
            parse_dataset(f"imagefolder:{path}"), schedule(tmp_path, "val_fraction: 0.1\n", batch=2), 3, tmp_path / "o"
        )


def test_calibration_set_for_latency_exports(tmp_path: Path) -> None:
    from hwbench.accuracy.calibration import calibration_set

    x = calibration_set("digits", 20, 64)
    assert x.shape == (20, 3, 64, 64) and x.dtype == np.float32 and abs(float(x.mean())) < 1.0
    assert np.array_equal(x, calibration_set("digits", 20, 64))  # seeded
    path = write_imagefolder(tmp_path / "f", classes=2, per_class=5)
    assert calibration_set(f"imagefolder:{path}", 4, 32, channels=1).shape == (4, 1, 32, 32)
