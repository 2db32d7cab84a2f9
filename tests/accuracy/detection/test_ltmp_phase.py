"""An LTMP ViT detector trains dense first (exactly its dense counterpart's training, its blocks off), then one epoch
of its thresholds alone for the FLOPs budget; given the dense detector's weights, only that epoch runs."""

from __future__ import annotations

import torch

from hwbench.accuracy.detection import ltmp_phase
from hwbench.accuracy.detection.trainer import train_detection_job
from hwbench.space.det_vit import dense_detector
from tests.accuracy.detection.test_pruning_phase import data, job  # noqa: F401  (data: the module fixture)
from tests.models.test_det_vit_ltmp import det_spec


def test_dense_phase_is_the_dense_training_then_thresholds_train_alone(data: dict, monkeypatch) -> None:  # noqa: F811
    ltmp = det_spec(depth=2, flops_target=0.6)
    dense = train_detection_job(job(data, dense_detector(ltmp), "dense"))
    assert dense["status"] == "ok", dense.get("error")
    with monkeypatch.context() as m:  # stop right after the schedule: the weights of the dense phase
        m.setattr(ltmp_phase, "threshold_phase", lambda *a, **k: {})
        m.setattr("hwbench.accuracy.detection.trainer._token_facts", lambda *a, **k: {})
        phase = train_detection_job(job(data, ltmp, "phase"))
    assert phase["status"] == "ok", phase.get("error")
    want = torch.load(dense["weights"]["path"], weights_only=True)
    got = torch.load(phase["weights"]["path"], weights_only=True)
    assert set(got) - set(want) and all("threshold" in k for k in set(got) - set(want))
    assert all(torch.equal(want[k], got[k]) for k in want)
    full = train_detection_job(job(data, ltmp, "full"))
    assert full["status"] == "ok", full.get("error")
    token = full["info"]["token_phase"]
    assert token["phase"] == "ltmp thresholds" and token["steps"] == 3 and token["method"] == "ltmp"
    assert token["flops_target"] == 0.6 and 0 < token["flops_ratio"] <= 1
    assert all(0 <= v <= 1 for v in token["merge_thresholds"] + token["prune_thresholds"])
    final = torch.load(full["weights"]["path"], weights_only=True)
    # Only the thresholds moved: the network, BatchNorm statistics included, is the dense phase's.
    assert all(torch.equal(final[k], got[k]) for k in got if "threshold" not in k)
    assert any(not torch.equal(final[k], got[k]) for k in got if "merge_threshold" in k)
    given = train_detection_job({**job(data, ltmp, "given"), "dense_weights": dense["weights"]["path"]})
    assert given["status"] == "ok", given.get("error")
    assert given["curve"] == [] and given["metrics"] == full["metrics"]
