"""A pruning ViT detector trains dense first (exactly its dense counterpart's training), then fine-tunes with its
selectors, which start keeping every token; the record says what the selectors keep on the test split."""

from __future__ import annotations

import pytest
import torch

from hwbench.accuracy.detection import pruning_phase
from hwbench.accuracy.detection.data import get_detection_dataset
from hwbench.accuracy.detection.trainer import train_detection_job
from hwbench.accuracy.schedule import load_schedule
from hwbench.space.det_vit import PruningKnobs, dense_detector
from tests.models.test_calibrate import spread
from tests.models.test_det_vit import PRUNE, det_spec, images, pair

SIZE = 32


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """digits-det at 32 px as the worker's .npz files."""
    tmp = tmp_path_factory.mktemp("digits_det_vit")
    loaded = get_detection_dataset("digits-det").load(None, SIZE)
    loaded.train.save(tmp / "train.npz")
    loaded.test.save(tmp / "test.npz")
    pixels = loaded.train.images.reshape(-1, 3) / 255.0
    files = {"train": str(tmp / "train.npz"), "test": str(tmp / "test.npz")}
    return {"tmp": tmp, **files, "mean": pixels.mean(0).tolist(), "std": pixels.std(0).tolist()}


def job(data: dict, spec, name: str) -> dict:
    schedule = {**load_schedule("det_demo").math(), "batch_size": 8, "resolution": SIZE, "epochs": 1}
    schedule.update(train_images=24, val_images=8, eval_every=1, eval_batch_size=8, seed=0)
    files = {k: data[k] for k in ("train", "test", "mean", "std")}
    return {
        "spec_json": spec.canonical_json,
        "schedule": schedule,
        "data": files,
        "threads": 1,
        "device": "cpu",
        "channels_last": False,
        "weights_path": str(data["tmp"] / f"{name}.pt"),
        "nms": {"score_threshold": 0.05, "max_detections": 20},
    }


def test_dense_phase_is_the_dense_training_then_selectors_fine_tune(data: dict, monkeypatch) -> None:
    pruned = det_spec("vit_mlp_prune", **PRUNE)
    dense = train_detection_job(job(data, dense_detector(pruned), "dense"))
    assert dense["status"] == "ok", dense.get("error")
    with monkeypatch.context() as m:  # stop right after the schedule: the weights of the dense phase
        m.setattr(pruning_phase, "finetune", lambda *a, **k: {})
        m.setattr("hwbench.accuracy.detection.trainer._token_facts", lambda *a, **k: {})
        phase = train_detection_job(job(data, pruned, "phase"))
    assert phase["status"] == "ok", phase.get("error")
    want = torch.load(dense["weights"]["path"], weights_only=True)
    got = torch.load(phase["weights"]["path"], weights_only=True)
    assert set(got) - set(want) and all("selector" in k for k in set(got) - set(want))
    assert all(torch.equal(want[k], got[k]) for k in want)
    full = train_detection_job(job(data, pruned, "full"))
    assert full["status"] == "ok", full.get("error")
    token = full["info"]["token_phase"]
    assert token["finetune_epochs"] == 1 and token["steps"] == 3 and len(token["keep_ratio"]) == 2
    # The calibrated rule, set on the 24 training images: each block keeps its target (0.7) on them.
    assert token["threshold"] == "calibrated" and token["calibration_images"] == 24
    assert len(token["calibration_bias"]) == 2
    assert token["calibration_keep_ratio"] == pytest.approx([0.7, 0.7], abs=0.5 / (24 * 16) + 1e-4)
    assert token["lr"]["selectors"] > token["lr"]["network"]
    final = torch.load(full["weights"]["path"], weights_only=True)
    assert any(not torch.equal(final[k], got[k]) for k in got)  # the fine-tune trained the network
    # Given the dense detector's trained weights, only the fine-tune runs, and it gives the same network.
    given = train_detection_job({**job(data, pruned, "given"), "dense_weights": dense["weights"]["path"]})
    assert given["status"] == "ok", given.get("error")
    assert given["curve"] == [] and given["metrics"] == full["metrics"]
    again = torch.load(given["weights"]["path"], weights_only=True)
    assert all(torch.equal(final[k], again[k]) for k in final)


@pytest.mark.parametrize("knobs", [{}, {"keep_pruned": False}], ids=["keep", "discard"])
def test_fine_tune_from_sharp_trained_weights_stays_finite_and_keeps_tokens(data: dict, knobs: dict) -> None:
    """The benchmark's fine-tunes from the trained digits-det dense detector (attention logits spread by thousands)
    gave NaN weights, kept fraction 0 and mAP 0 (discard: an IndexError); a trained dense start with attention
    sharpened the same way must fine-tune to finite weights that still keep most tokens and still detect."""
    pruned = det_spec("vit_mlp_prune", pruning=knobs, **PRUNE)
    dense = train_detection_job(job(data, dense_detector(pruned), "sharp_dense"))
    assert dense["status"] == "ok", dense.get("error")
    weights = torch.load(dense["weights"]["path"], weights_only=True)
    for key in [k for k in weights if k.endswith(("attn.qkv.weight", "attn.qkv.bias"))]:
        rows = weights[key].shape[0] * 2 // 3  # query and key rows: logits ×100², spread by thousands
        weights[key][:rows] *= 100.0
    path = data["tmp"] / "sharp_dense.pt"
    torch.save(weights, path)
    tuned = train_detection_job({**job(data, pruned, "sharp_tuned"), "dense_weights": str(path)})
    assert tuned["status"] == "ok", tuned.get("error")
    final = torch.load(tuned["weights"]["path"], weights_only=True)
    assert all(torch.isfinite(v).all() for v in final.values() if v.is_floating_point())
    token = tuned["info"]["token_phase"]
    assert all(0.5 < k <= 1.0 for k in token["keep_ratio"]), token  # started keeping all; 3 steps can't drop most
    assert tuned["boxes"]["kept_mean"] > 0  # NaN scores leave no box above the threshold


@pytest.mark.parametrize("threshold", ["calibrated", "learned"])
def test_decision_rule(threshold: str) -> None:
    """calibrated: biases shifted so each block keeps its target on the images; learned: the selectors as trained."""
    _, model = pair(pruning={"threshold": threshold}, **PRUNE)
    spread(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = images(12, seed=4)
    facts = pruning_phase.decision_rule(model, PruningKnobs(threshold=threshold), x)  # type: ignore[arg-type]
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert facts["threshold"] == threshold and facts["calibration_images"] == 12
    assert len(facts["calibration_keep_ratio"]) == 2
    if threshold == "learned":
        assert not changed and "calibration_bias" not in facts
    else:
        assert changed == {f"vit.blocks.{i}.selector.fc2.bias" for i in (1, 2)}
        assert facts["calibration_keep_ratio"] == pytest.approx([0.7, 0.7], abs=0.5 / (12 * 16) + 1e-4)
