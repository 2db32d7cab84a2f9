"""Training of the token mechanisms on the built-in digits: LTMP's threshold epoch moves only the thresholds,
toward the FLOPs budget; the pruner's selectors get gradients and approach their keep ratio."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwbench.accuracy.batches import DeviceData
from hwbench.accuracy.token_phase import (
    before_schedule,
    schedule_loss,
    threshold_phase,
    token_method,
    validation_facts,
)
from hwbench.accuracy.trainer import epoch_batches, train_job
from hwbench.models import build_model
from tests.accuracy.layouts import prepared_digits
from tests.vit_helpers import tiny_spec

# A budget far below what the knob thresholds give (1.0: nothing merges or prunes), a broad surrogate and a
# strong budget term: the thresholds must move within one epoch.
LTMP_KNOBS = {"flops_target": 0.5, "merge_threshold": 1.0, "prune_threshold": 0.0, "tau": 1.0, "loss_weight": 100.0}
PRUNE_KNOBS = {"skip_first": 1, "keep_ratio": 0.9, "groups": 1, "loss_weight": 20.0}


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory):
    """The built-in dataset prepared at 32 px (the tiny ViT's 4×4 patches of 8 px) for a 4-epoch schedule."""
    return prepared_digits(
        tmp_path_factory.mktemp("digits"),
        "epochs: 4\nbatch_size: 32\nresolution: 32\noptimizer: {name: adamw, lr: 0.003}\n"
        "lr_schedule: {warmup_epochs: 0.5}\neval_every: 4\n",
    )


def job(digits, block: str, **knobs: float) -> dict:
    schedule, data, tmp = digits
    spec = tiny_spec(block, depth=3, **knobs)
    return {
        "spec_json": spec.canonical_json,
        "schedule": {**schedule.math(), "seed": 0},
        "data": data.as_job(),
        "threads": 1,
        "device": "cpu",
        "channels_last": True,
        "weights_path": str(tmp / f"{spec.arch_id}.pt"),
    }


def split(digits, name: str) -> DeviceData:
    _, data, _ = digits
    files = data.as_job()["files"]
    return DeviceData(
        np.load(files[f"{name}_x"]), np.load(files[f"{name}_y"]), data.mean, data.std, torch.device("cpu")
    )


def test_the_threshold_epoch_changes_only_the_thresholds_toward_the_budget(digits) -> None:
    model = build_model(tiny_spec("vit_ltmp", depth=3, **LTMP_KNOBS)).train()
    before_schedule(model)
    assert not any(p.requires_grad for n, p in model.named_parameters() if "threshold" in n)
    train, val = split(digits, "train"), split(digits, "val")
    off = validation_facts(model, val, 256, False)
    assert off["flops_ratio"] == 1.0  # reduction is off while the schedule trains the backbone
    before = {k: v.clone() for k, v in model.state_dict().items()}
    steps = len(train) // 32
    batches = epoch_batches(train, 32, steps, torch.Generator().manual_seed(0), False, 0, False)
    phase = threshold_phase(model, batches, steps)
    assert phase["steps"] == steps and phase["seconds"] > 0
    after = model.state_dict()
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    assert moved and all(k.endswith(("merge_threshold", "prune_threshold")) for k in moved)
    facts = validation_facts(model, val, 256, False)
    assert abs(facts["flops_ratio"] - 0.5) < abs(1.0 - 0.5)  # the knob thresholds give 1.0
    assert all(0 <= t < 1 for t in facts["merge_thresholds"]) and len(facts["prune_thresholds"]) == 3


def test_the_pruners_selectors_get_gradients_from_the_keep_ratio_loss(digits) -> None:
    model = build_model(tiny_spec("vit_mlp_prune", depth=3, **PRUNE_KNOBS)).train()
    assert token_method(model) == "mlp_prune" and token_method(build_model(tiny_spec("vit_tome", r=1))) is None
    train = split(digits, "train")
    x, y = next(epoch_batches(train, 32, 1, torch.Generator().manual_seed(0), False, 0, False))
    task = torch.nn.functional.cross_entropy(model(x), y)
    loss = schedule_loss(model, task)
    assert loss.item() > task.item()  # the keep-ratio term is there (random selectors keep about half)
    loss.backward()
    selectors = [p for n, p in model.named_parameters() if "selector" in n]
    assert selectors and all(p.grad is not None for p in selectors)
    assert any(p.grad.abs().sum() > 0 for p in selectors if p.ndim > 1)


@pytest.mark.parametrize(("block", "knobs"), [("vit_ltmp", LTMP_KNOBS), ("vit_mlp_prune", PRUNE_KNOBS)])
def test_the_trainer_trains_the_mechanism_and_records_what_it_learned(digits, block: str, knobs: dict) -> None:
    result = train_job(job(digits, block, **knobs))
    assert result["status"] == "ok", result.get("error")
    facts = result["info"]["token_training"]
    assert facts["val_images"] == result["info"]["val_images"] and facts["decisions"] == "hard (deploy)"
    if block == "vit_ltmp":
        phase = facts["threshold_phase"]
        assert phase["steps"] == result["info"]["steps"] // 4 and phase["seconds"] > 0
        assert facts["flops_ratio_at_start"] == 1.0
        assert abs(facts["flops_ratio"] - 0.5) < abs(facts["flops_ratio_at_start"] - 0.5)
        assert len(facts["merge_thresholds"]) == 3 and facts["backbone"]["top1"] > 0.4
        saved = torch.load(result["info"]["weights"]["path"], weights_only=True)
        assert saved["blocks.0.merge_threshold"].item() == pytest.approx(facts["merge_thresholds"][0], abs=1e-6)
    else:
        targets, start, end = facts["keep_targets"], facts["keep_ratio_at_start"], facts["keep_ratio"]
        assert targets == [0.9, 0.9]
        assert sum(abs(e - t) for e, t in zip(end, targets)) < sum(abs(s - t) for s, t in zip(start, targets))
    assert result["top1"] > 0.15, result["top1"]  # chance is 0.1; a tiny ViT learns slowly in 4 epochs
