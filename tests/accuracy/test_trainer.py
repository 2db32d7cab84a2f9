"""The trainer learns, is deterministic, scales sensibly with size, and turns failures into records."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from hwbench.accuracy.trainer import lr_factor, train_job
from hwbench.space.archspec import ArchSpec
from tests.accuracy.layouts import prepared_digits


def arch(block: str = "mbconv", widths: tuple[int, int] = (16, 24), depth: int = 1, resolution: int = 16) -> ArchSpec:
    """A small two-stage CNN of one block type, 10 classes."""
    return ArchSpec.from_dict(
        {
            "family": "cnn",
            "block": block,
            "resolution": resolution,
            "num_classes": 10,
            "stem": {"width": 8, "stride": 1},
            "stages": [{"depth": depth, "width": w, "stride": 2} for w in widths],
            "head": {"width": 64},
        }
    )


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory):
    """The built-in dataset prepared at 16 px for a 3-epoch schedule."""
    return prepared_digits(
        tmp_path_factory.mktemp("digits"),
        "epochs: 3\nbatch_size: 32\nresolution: 16\noptimizer: {lr: 0.1}\nlr_schedule: {warmup_epochs: 0.5}\n"
        "label_smoothing: 0.1\naugment: {crop_padding: 1}\neval_every: 1\n",
    )


def job(digits, spec: ArchSpec, seed: int = 0, **overrides) -> dict:
    schedule, data, tmp = digits
    return {
        "spec_json": spec.canonical_json,
        "schedule": {**schedule.math(), "seed": seed, **overrides},
        "data": data.as_job(),
        "threads": 1,
        "device": "cpu",
        "channels_last": True,
        "weights_path": str(tmp / f"{spec.arch_id}-{seed}.pt"),
    }


def test_lr_warms_up_linearly_then_follows_the_cosine() -> None:
    sched = {"name": "cosine", "warmup_start": 0.1, "final": 0.0}
    assert lr_factor(0, 100, 10, sched) == pytest.approx(0.1)
    assert lr_factor(5, 100, 10, sched) == pytest.approx(0.55)
    assert lr_factor(10, 100, 10, sched) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10, sched) == pytest.approx(0.5)
    assert lr_factor(100, 100, 10, sched) == pytest.approx(0.0)
    assert lr_factor(50, 100, 0, {**sched, "name": "constant"}) == 1.0


def test_training_learns_the_builtin_dataset(digits) -> None:
    result = train_job(job(digits, arch()))
    assert result["status"] == "ok", result.get("error")
    assert result["top1"] > 0.6  # chance is 0.1
    assert result["top5"] >= result["top1"] and result["images_per_second"] > 0
    curve = result["curve"]
    assert [p["epoch"] for p in curve] == [1, 2, 3] and curve[-1]["train_loss"] < curve[0]["train_loss"]
    assert result["final_train_loss"] == curve[-1]["train_loss"] and "val_top1" in curve[0]
    assert result["info"]["val_images"] == 359 and Path(result["info"]["weights"]["path"]).is_file()


def test_same_seed_same_result_other_seed_other_result(digits) -> None:
    spec = arch("fused_mbconv", (8, 16))
    a, b = train_job(job(digits, spec, epochs=1)), train_job(job(digits, spec, epochs=1))
    c = train_job(job(digits, spec, seed=1, epochs=1))
    assert a["curve"][0]["train_loss"] == b["curve"][0]["train_loss"] and a["top1"] == b["top1"]
    assert c["curve"][0]["train_loss"] != a["curve"][0]["train_loss"]
    import torch

    wa = torch.load(a["info"]["weights"]["path"], weights_only=True)
    wb = torch.load(b["info"]["weights"]["path"], weights_only=True)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_a_bigger_network_is_not_systematically_worse(digits) -> None:
    small, big = arch("resnet_bottleneck", (8, 8)), arch("resnet_bottleneck", (32, 48), depth=2)
    seeds = (0, 1, 2)
    small_top1 = [train_job(job(digits, small, s, epochs=2))["top1"] for s in seeds]
    big_top1 = [train_job(job(digits, big, s, epochs=2))["top1"] for s in seeds]
    assert statistics.mean(big_top1) >= statistics.mean(small_top1) - 0.02, (small_top1, big_top1)


def test_a_failure_is_a_record(digits) -> None:
    bad = job(digits, arch())
    bad["data"] = {**bad["data"], "files": {**bad["data"]["files"], "train_x": "/nonexistent.npy"}}
    result = train_job(bad)
    assert result["status"] == "error" and "nonexistent.npy" in result["error"] and "traceback" in result["info"]


def test_cuda_requested_without_cuda_is_an_error_record(digits) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = train_job({**job(digits, arch()), "device": "cuda"})
    assert result["status"] == "error" and "no CUDA device" in result["error"]


def test_weights_reload_into_a_fresh_model(digits) -> None:
    import torch

    from hwbench.accuracy.batches import DeviceData
    from hwbench.accuracy.evaluate import evaluate_model
    from hwbench.models import build_model

    spec = arch("convnext", (16, 24))
    result = train_job(job(digits, spec, epochs=1))
    model = build_model(spec, seed=123)
    model.load_state_dict(torch.load(result["info"]["weights"]["path"], weights_only=True))
    _, data, _ = digits
    val = DeviceData(
        np.load(data.files["val_x"]), np.load(data.files["val_y"]), data.mean, data.std, torch.device("cpu")
    )
    assert evaluate_model(model, val, 256, channels_last=False)["top1"] == pytest.approx(result["top1"])
