"""The ONNX graph as a modelled workload: MACs counted per node add up to the network's, coverage by kind."""

from __future__ import annotations

import pytest

from hwbench.modelled.job import coverage_table, layer_keys
from hwbench.modelled.workload import COSTED_OPS, load_workload
from hwbench.models.complexity import complexity
from hwbench.space.archspec import ArchSpec


@pytest.mark.export
def test_costed_and_uncosted_macs_add_up_to_the_networks_macs(tiny_onnx: dict) -> None:
    for block, (path, spec_json) in tiny_onnx.items():
        work = load_workload(path)
        cov = coverage_table(work)
        kinds = cov["by_kind"]
        assert sum(k["macs"] for k in kinds.values()) == cov["macs"] == work.macs, block
        assert cov["costed_macs"] + cov["uncosted_macs"] == cov["macs"], block
        # The graph's MACs are the network's MACs as hwbench counts them on the PyTorch model.
        assert work.macs == complexity(ArchSpec.from_json(spec_json)).macs, block
        assert sum(k["nodes"] for k in kinds.values()) == len(work.model.graph.node), block
        assert set(kinds["costed"]["ops"]) <= set(COSTED_OPS), block
        assert cov["mac_coverage"] == 1.0, block  # every MAC of these blocks sits in a Conv, Gemm or MatMul


@pytest.mark.export
def test_what_is_not_costed_is_named_by_kind(tiny_onnx: dict) -> None:
    cnn = coverage_table(load_workload(tiny_onnx["mbconv"][0]))["by_kind"]
    assert "Clip" in cnn["activation"]["ops"] or "Relu" in cnn["activation"]["ops"]  # ReLU6
    assert cnn["pooling"]["macs"] == 0 and cnn["activation"]["macs"] == 0
    vit = coverage_table(load_workload(tiny_onnx["vit"][0]))["by_kind"]
    assert "Softmax" in vit["softmax"]["ops"] and vit["normalisation"]["nodes"] >= 1
    assert "other" not in vit and "other" not in cnn  # every operator of these graphs has a named kind


@pytest.mark.export
def test_identical_layers_share_a_key_and_the_scope_separates_them(tiny_onnx: dict) -> None:
    work = load_workload(tiny_onnx["basic"][0])
    keys = layer_keys(work, {"accelerator": "a"})
    other = layer_keys(work, {"accelerator": "b"})
    assert set(keys) == set(other) and not set(keys.values()) & set(other.values())
    again = layer_keys(load_workload(tiny_onnx["basic"][0]), {"accelerator": "a"})
    assert again == keys  # names never enter a key: the same graph read twice keys the same
