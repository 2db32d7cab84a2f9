"""Which ViT detectors train after their dense counterpart (and take its weights): pruning and LTMP ones, not ToMe
ones."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hwbench.pipeline import det_train
from hwbench.space.det_vit import dense_detector
from tests.models.test_det_vit import PRUNE
from tests.models.test_det_vit import det_spec as prune_spec
from tests.models.test_det_vit_ltmp import det_spec as ltmp_spec
from tests.models.test_det_vit_tome import det_spec as tome_spec


def test_pruning_and_ltmp_detectors_wait_for_their_dense_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(det_train, "train_key", lambda arch, tp: f"key-{arch.spec.arch_id}")
    pruned, merging, ltmp = prune_spec("vit_mlp_prune", **PRUNE), tome_spec(r=3), ltmp_spec()
    dense = dense_detector(pruned)
    assert dense_detector(merging).arch_id == dense.arch_id == dense_detector(ltmp).arch_id  # one dense counterpart
    archs = [SimpleNamespace(spec=s) for s in (dense, pruned, merging, ltmp)]
    todo = [(f"key-{a.spec.arch_id}", a) for a in archs]
    later = det_train._after_dense(SimpleNamespace(archs=archs), None, todo)  # type: ignore[arg-type]
    assert later == {f"key-{pruned.arch_id}": f"key-{dense.arch_id}", f"key-{ltmp.arch_id}": f"key-{dense.arch_id}"}
