"""The order detection timing times a target's detectors in: each dense ViT detector right before its pruned
counterparts, so a speed-up pairs two windows close in time; other detectors keep their place."""

from __future__ import annotations

from types import SimpleNamespace

from hwbench.pipeline.det_timing import timing_order
from hwbench.space.det_vit import dense_detector
from tests.models.test_det_vit import PRUNE, det_spec


def test_each_dense_detector_is_timed_right_before_its_pruned_counterparts() -> None:
    pruned_a = det_spec("vit_mlp_prune", **PRUNE)
    pruned_a2 = det_spec("vit_mlp_prune", **{**PRUNE, "keep_ratio": 0.5})
    pruned_b = det_spec("vit_mlp_prune", depth=4, **PRUNE)
    dense_a, dense_b = dense_detector(pruned_a), dense_detector(pruned_b)
    cnn = SimpleNamespace(family="det", block="mbconv", arch_id="cnn")
    specs = {"pa": pruned_a, "cnn": cnn, "db": dense_b, "pb": pruned_b, "da": dense_a, "pa2": pruned_a2}
    pending = {key: {"arch": SimpleNamespace(spec=spec)} for key, spec in specs.items()}
    jobs = [(key, {"job": key}) for key in specs]
    ordered = timing_order(jobs, pending)
    assert [key for key, _ in ordered] == ["da", "pa", "pa2", "cnn", "db", "pb"]
    assert all(job == {"job": key} for key, job in ordered)  # the jobs themselves (and their keys) unchanged
    assert timing_order(ordered, pending) == ordered  # already grouped: kept as is
