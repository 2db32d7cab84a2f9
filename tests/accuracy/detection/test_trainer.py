"""The detection trainer learns digits-det, is deterministic, saves usable weights, and turns failures into records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hwbench.accuracy.detection.data import get_detection_dataset
from hwbench.accuracy.detection.trainer import evaluate_detector, subset_indices, train_detection_job
from hwbench.accuracy.schedule import load_schedule
from hwbench.models import build_model
from hwbench.postprocess.nms import NmsSettings
from hwbench.space.archspec import ArchSpec
from hwbench.store.keys import digest

SIZE = 64  # digits-det canvases resized to 64 px: digits of about 6-38 px
THREADS = 1  # as the classification trainer tests: no thread oversubscription when the suite runs in parallel


def tiny_detector(head: str = "ssdlite") -> ArchSpec:
    """A two-stage mbconv backbone (strides 4, 8) + one extra level (16), 3 anchors per cell: 1,008 boxes."""
    backbone = {
        "family": "cnn",
        "block": "mbconv",
        "resolution": SIZE,
        "num_classes": 10,
        "stem": {"width": 8, "stride": 2},
        "stages": [{"depth": 1, "width": 16, "stride": 2}, {"depth": 1, "width": 24, "stride": 2}],
        "head": {"width": 32},
    }
    shapes = [[0.5, 1.0], [0.5, 2.0], [0.5, 0.5]]  # sides 8, 16, 32 px on strides 4, 8, 16
    depth = 1 if head == "retinanet_lite" else 0
    return ArchSpec.from_dict(
        {
            "family": "det",
            "block": "mbconv",
            "backbone": backbone,
            "resolution": SIZE,
            "num_classes": 10,
            "head": {"type": head, "width": 24, "depth": depth, "levels": [0, 1], "extra_levels": 1},
            "anchors": {"levels": [shapes] * 3},
        }
    )


@pytest.fixture(scope="module")
def digits_det(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """digits-det at 64 px written as the worker's .npz files, with its per-channel mean and std."""
    tmp = tmp_path_factory.mktemp("digits_det")
    data = get_detection_dataset("digits-det").load(None, SIZE)
    data.train.save(tmp / "train.npz")
    data.test.save(tmp / "test.npz")
    pixels = data.train.images.reshape(-1, 3) / 255.0
    return {
        "tmp": tmp,
        "test": data.test,
        "data": {
            "train": str(tmp / "train.npz"),
            "test": str(tmp / "test.npz"),
            "mean": pixels.mean(0).tolist(),
            "std": pixels.std(0).tolist(),
        },
    }


def job(digits_det: dict, spec: ArchSpec, **overrides) -> dict:
    """det_demo cut to 4 epochs of batch 16 at 64 px (200 steps, AdamW 1e-2), scored on 64 test images."""
    schedule = {**load_schedule("det_demo").math(), "batch_size": 16, "val_images": 64, "resolution": SIZE}
    schedule.update(epochs=4, eval_every=4, optimizer={**schedule["optimizer"], "lr": 0.01})
    box_loss = overrides.pop("box_loss", "smooth_l1")
    return {
        "spec_json": spec.canonical_json,
        "schedule": {**schedule, **overrides},
        "data": digits_det["data"],
        "threads": THREADS,
        "device": "cpu",
        "weights_path": str(digits_det["tmp"] / f"{spec.arch_id}-{digest(overrides, 6)}-{box_loss}.pt"),
        "box_loss": box_loss,
        "nms": {"score_threshold": 0.05, "max_detections": 50},
    }


def untrained_map50(digits_det: dict, spec: ArchSpec, seed: int = 0) -> float:
    """mAP@0.5 of the trainer's initial weights on the same test images."""
    model = build_model(spec, seed=int(digest({"arch": spec.arch_id, "seed": seed}, 8), 16))
    test = digits_det["test"].subset(subset_indices(len(digits_det["test"]), 64, seed + 1))
    data = digits_det["data"]
    result = evaluate_detector(model, test, NmsSettings(max_detections=50), 64, mean=data["mean"], std=data["std"])
    return result["metrics"]["map50"]


@pytest.mark.slow
def test_a_few_steps_beat_the_untrained_detector(digits_det: dict) -> None:
    spec = tiny_detector()
    result = train_detection_job(job(digits_det, spec))
    assert result["status"] == "ok", result.get("error")
    before = untrained_map50(digits_det, spec)
    assert before < 0.02
    assert result["metrics"]["map50"] > max(0.05, 5 * before)  # measured: 0.14 against 0.0
    assert 0 <= result["metrics"]["map"] <= result["metrics"]["map50"] <= 1
    assert result["metrics"]["map_ci_low"] < result["metrics"]["map"] < result["metrics"]["map_ci_high"]
    curve = result["curve"]
    assert [p["epoch"] for p in curve] == [1, 2, 3, 4] and curve[-1]["train_loss"] < curve[0]["train_loss"]
    assert result["final_loss"] == curve[-1]["train_loss"] and result["eval_images"] == 64
    assert result["info"]["train_images"] == 800 and result["info"]["num_anchors"] == (256 + 64 + 16) * 3
    assert result["info"]["steps"] == 4 * 50 and result["boxes"]["kept_mean"] <= 50
    # The saved weights reproduce the evaluation.
    model = build_model(spec)
    model.load_state_dict(torch.load(result["weights"]["path"]))
    test = digits_det["test"].subset(subset_indices(200, 64, 1))
    again = evaluate_detector(
        model, test, NmsSettings(max_detections=50), 32, mean=digits_det["data"]["mean"], std=digits_det["data"]["std"]
    )
    assert again["metrics"]["map50"] == pytest.approx(result["metrics"]["map50"], abs=1e-6)


@pytest.mark.slow
def test_same_seed_same_result_and_retinanet_with_giou_learns(digits_det: dict) -> None:
    spec = tiny_detector("retinanet_lite")
    short = {"epochs": 2, "eval_every": 1, "train_images": 192, "box_loss": "giou"}
    a, b = train_detection_job(job(digits_det, spec, **short)), train_detection_job(job(digits_det, spec, **short))
    assert a["status"] == "ok", a.get("error")
    assert a["curve"] == [{**p, "seconds": q["seconds"]} for p, q in zip(b["curve"], a["curve"])]
    assert a["metrics"] == b["metrics"] and "val_map50" in a["curve"][0]
    assert a["info"]["head_type"] == "retinanet_lite" and a["info"]["box_loss"] == "giou"
    assert a["curve"][1]["train_loss"] < a["curve"][0]["train_loss"]
    c = train_detection_job(job(digits_det, spec, **short, seed=1))
    assert c["final_loss"] != a["final_loss"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"augment": {"crop_padding": 2, "hflip": False}}, "no augmentation"),
        ({"label_smoothing": 0.1}, "no label smoothing"),
        ({"batch_size": 1000}, "800 training images is less than one batch of 1000"),
        ({"box_loss": "l2"}, "unknown box loss 'l2'"),
    ],
)
def test_failures_are_records(digits_det: dict, overrides: dict, message: str) -> None:
    result = train_detection_job(job(digits_det, tiny_detector(), epochs=1, **overrides))
    assert result["status"] == "error" and message in result["error"]
    assert result["train_seconds"] >= 0 and "Traceback" in result["info"]["traceback"]


def test_a_split_at_another_size_than_the_detector_is_refused(digits_det: dict, tmp_path: Path) -> None:
    split = get_detection_dataset("digits-det").load(None, 32).test.subset(range(8))
    split.save(tmp_path / "small.npz")
    bad = job(digits_det, tiny_detector())
    bad["data"] = {**bad["data"], "test": str(tmp_path / "small.npz")}
    result = train_detection_job(bad)
    assert result["status"] == "error" and "test split is 32 px but the detector's input is 64 px" in result["error"]


def test_subsets_are_seeded_and_sorted() -> None:
    a = subset_indices(100, 10, 3)
    assert a == subset_indices(100, 10, 3) and a == sorted(a) and len(set(a)) == 10
    assert a != subset_indices(100, 10, 4)
    assert subset_indices(100, None, 3) is None and subset_indices(100, 100, 3) is None
    assert np.all(np.array(a) < 100)


def test_the_final_evaluation_carries_the_map_interval(digits_det: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The metrics the training record copies hold the bootstrap interval around the mAP (mid-training ones not)."""
    from hwbench.accuracy.detection import trainer

    test = digits_det["test"].subset(range(40))
    rng = np.random.default_rng(0)
    found = [(b + rng.normal(0, 1.5, b.shape).astype(np.float32), rng.uniform(size=len(b)), lab) for b, lab in
             zip(test.boxes, test.labels)]  # fmt: skip
    found[::3] = [(b[:0], s[:0], lab[:0]) for b, s, lab in found[::3]]  # a third of the images: nothing found
    monkeypatch.setattr(trainer, "detect", lambda *args, **kwargs: (found, {}))
    metrics = evaluate_detector(torch.nn.Identity(), test, None, 8, mean=0, std=1)["metrics"]
    assert metrics["map_ci_low"] < metrics["map"] < metrics["map_ci_high"]
    assert (
        "map_ci_low"
        not in evaluate_detector(torch.nn.Identity(), test, None, 8, mean=0, std=1, interval=False)["metrics"]
    )
