"""Metrics by hand, the runner adapter (layouts, fixed batches), and an ONNX artifact scored through onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwbench.accuracy.evaluate import evaluate_artifact_job, run_artifact, topk_metrics
from hwbench.runners import TensorSpec


def test_topk_metrics_by_hand() -> None:
    logits = np.array([[3.0, 1, 0, 0, 0, 0], [0, 1, 2, 3, 4, 5], [1, 1, 1, 1, 1, 1]])
    labels = np.array([0, 1, 2])
    m = topk_metrics(logits, labels)
    # row 0: right; row 1: rank 4 (top-5 only); row 2: all tie (counted as right, nothing scores higher)
    assert m["top1"] == pytest.approx(2 / 3) and m["top5"] == pytest.approx(1.0)
    expected = np.mean([np.log(np.exp(r).sum()) - r[y] for r, y in zip(logits, labels)])
    assert m["loss"] == pytest.approx(expected)
    assert topk_metrics(np.eye(3), np.arange(3))["top5"] is None  # ≤ 5 classes: top-5 means nothing


class FixedBatchNHWC:
    """A stand-in Session that takes NHWC batches of 4 and returns the mean of each image's channels."""

    def __init__(self) -> None:
        self.calls = 0

    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec("x", (4, 5, 5, 2), "float32")]

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        assert inputs[0].shape == (4, 5, 5, 2)
        self.calls += 1
        return [inputs[0].mean(axis=(1, 2))]


def test_run_artifact_adapts_layout_and_pads_fixed_batches() -> None:
    images = np.random.default_rng(0).standard_normal((10, 2, 5, 5)).astype(np.float32)
    session = FixedBatchNHWC()
    out = run_artifact(session, images)
    assert out.shape == (10, 2) and session.calls == 3
    assert np.allclose(out, images.mean(axis=(2, 3)), atol=1e-6)
    with pytest.raises(ValueError, match=r"the validation images are 3×5×5"):
        run_artifact(session, np.zeros((1, 3, 5, 5), np.float32))


@pytest.mark.export
def test_onnx_artifact_matches_the_torch_accuracy(tmp_path: Path) -> None:
    from hwbench.accuracy.datasets import parse_dataset
    from hwbench.accuracy.prepare import prepare
    from hwbench.accuracy.schedule import load_schedule
    from hwbench.accuracy.trainer import train_job
    from hwbench.pipeline.training_plan import at_resolution
    from tests.accuracy.test_trainer import arch

    path = tmp_path / "s.yaml"
    path.write_text("epochs: 2\nbatch_size: 32\nresolution: 16\n")
    schedule = load_schedule(path)
    data = prepare(parse_dataset("digits"), schedule, 3, tmp_path / "data")
    spec = arch("mbconv_se", (16, 24), resolution=224)  # latency spec at 224 px, trained at 16
    weights = tmp_path / "w.pt"
    trained = train_job(
        {
            "spec_json": spec.canonical_json,
            "schedule": schedule.math(),
            "data": data.as_job(),
            "threads": 1,
            "device": "cpu",
            "weights_path": str(weights),
        }
    )
    assert trained["status"] == "ok", trained.get("error")
    assert trained["top1"] > 0.3  # a network that learnt something, so agreement means something
    job = {
        "acc_key": "k",
        "export": {
            "spec_json": at_resolution(spec, 16).canonical_json,  # the artifact takes what it was trained on
            "format": "onnx",
            "precision": "fp32",
            "options": {"opset": 18, "exporter": "dynamo"},
            "artifact_dir": str(tmp_path / "artifacts"),
            "weights": str(weights),
        },
        "runner": "onnxruntime",
        "runner_options": {},
        "threads": 1,
        "data": data.as_job(),
    }
    result = evaluate_artifact_job(job)
    assert result["status"] == "ok", result.get("error")
    assert result["info"]["parity_ok"] and result["info"]["val_images"] == 359
    assert abs(result["top1"] - trained["top1"]) <= 1 / 359  # fp32: at most one image may flip on a tie
    assert result["loss"] == pytest.approx(trained["loss"], rel=1e-3)

    broken = evaluate_artifact_job({**job, "export": {**job["export"], "weights": str(tmp_path / "missing.pt")}})
    assert broken["status"] == "error" and "export of the trained weights failed" in broken["error"]
