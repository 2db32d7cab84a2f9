"""Data-dependent ViTs on real inputs: prepared, counted and timed image by image on the sweep's dataset
(seeded random images without one); the distributions reach the store, the results table and `hwbench show`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.table import results_frame
from hwbench.models.vit_deploy import CALIBRATION_IMAGES, DATASET_IMAGES
from hwbench.pipeline import SweepRequest, run_sweep
from hwbench.store import Store
from tests.conftest import run_cli, write_target
from tests.space.test_vit_space import write_spaces


def sweep(tmp_path: Path, dataset: str | None) -> SweepRequest:
    spaces = write_spaces(tmp_path / "design_spaces")
    target = write_target(tmp_path / "targets", "ort", "onnxruntime", "{format: onnx}")  # auto: dynamic
    schedule = tmp_path / "sched.yaml"
    schedule.write_text("epochs: 1\nbatch_size: 64\nresolution: 32\n")
    return SweepRequest(
        name="p",
        spaces=[spaces["vit"], spaces["vit_ltmp"], spaces["vit_mlp_prune"]],
        targets=[target],
        n=1,
        store=tmp_path / "r" / "s.sqlite",
        report=False,
        dataset=dataset,
        schedule=schedule if dataset else None,
        eval_artifacts="none",
    )


@pytest.mark.parametrize("dataset", ["digits", pytest.param(None, marks=pytest.mark.extended)])
def test_dynamic_artifacts_are_timed_image_by_image_on_the_sweeps_images(tmp_path: Path, dataset: str | None) -> None:
    req = sweep(tmp_path, dataset)
    counts = run_sweep(req)
    assert counts["exports"] == 3 and counts["measurements"] == 3
    count = DATASET_IMAGES if dataset else CALIBRATION_IMAGES
    source = "dataset digits (" if dataset else "random (seeded)"
    store = Store(req.store)
    frame = results_frame(store, ["p"]).set_index("block")
    assert set(frame["status"]) == {"ok"}
    for block in ("vit_ltmp", "vit_mlp_prune"):
        row = frame.loc[block]
        assert row["token_form"] == "dynamic" and row["token_inputs"].startswith(source)
        assert row["images_timed"] == count and row["image_p10_ms"] <= row["image_median_ms"] <= row["image_p90_ms"]
        assert row["token_macs_min"] <= row["token_macs"] <= row["token_macs_max"]
        assert 0 < row["tokens_min"] <= row["tokens_max"]
        assert row["speedup_vs_dense"] == pytest.approx(frame.loc["vit", "median_ms"] / row["image_median_ms"])
        assert row["slower_than_dense"] == (row["speedup_vs_dense"] < 1)
        info = json.loads(store.get_measurement(row["measure_key"])["info_json"])["per_image"]
        assert len(info["image_median_ms"]) == count and info["rounds"] >= 1 and info["source"].startswith(source)
        export = json.loads(store.get_export(row["export_key"])["info_json"])
        assert len(export["per_input"]) == count and export["inputs"]["source"] == info["source"]
        images = np.load(req.artifact_dir / export["inputs"]["hash"][:2] / f"{export['inputs']['hash']}.npy")
        assert images.shape == (count, 3, 32, 32) and images.dtype == np.float32
    dense = frame.loc["vit"]
    assert dense["token_form"] == "dense" and pd.isna(dense["image_median_ms"])  # its cost is the same for all
    profile = json.loads(store.get_export(frame.loc["vit_ltmp", "export_key"])["profile_json"])
    assert ("token_inputs" in profile) == bool(dataset)  # keys of sweeps without a dataset are unchanged
    again = run_sweep(req)
    assert again["exports"] == 0 and again["measurements"] == 0
    shown = run_cli("show", "p", "--store", str(req.store), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert f"×{count}" in shown.stdout and "prepared on: " + source[:10] in shown.stdout.replace("\n", "")
