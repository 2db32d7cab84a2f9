"""Every shipped modelled target runs on one tiny network of each CNN block (and the ViT); figures hold together."""

from __future__ import annotations

import pytest

from hwbench.modelled.job import model_job
from tests.modelled.conftest import TARGETS, needs_zigzag
from tests.modelled.helpers import job_for, modelled_target

pytestmark = [needs_zigzag(), pytest.mark.export]


@pytest.mark.parametrize("path", TARGETS, ids=lambda p: p.stem)
def test_preset_models_every_block(path, tiny_onnx: dict) -> None:
    mt = modelled_target(path)
    cache: dict = {}
    for block, (onnx, _) in sorted(tiny_onnx.items()):
        result = model_job(job_for(mt, onnx, cache))
        if block == "vit" and result["status"] != "ok":
            # ZigZag's parser may refuse an operator of the ViT graph: a recorded error that names it.
            assert any(op in result["error"] for op in ("MatMul", "Gemm", "Conv")), result["error"]
            continue
        assert result["status"] == "ok", (block, result.get("error"))
        cache.update(result["new_layers"])
        clock_khz = mt.settings["clock_mhz"] * 1e3
        assert result["cycles"] > 0 and result["latency_ms"] == pytest.approx(result["cycles"] / clock_khz)
        assert result["energy_uj"] > 0 and 0 < result["utilisation"] <= 1
        layers = result["layers"]
        assert len(layers) == result["n_layers"] > 0
        assert sum(r["cycles"] for r in layers) == pytest.approx(result["cycles"])
        assert sum(r["energy_uj"] for r in layers) == pytest.approx(result["energy_uj"])
        # ZigZag's own MAC count of the layers it costed is the graph's costed MACs.
        assert result["zigzag_macs"] == result["costed_macs"] == result["coverage"]["costed_macs"]
