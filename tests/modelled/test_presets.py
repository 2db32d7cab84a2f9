"""Every shipped preset runs on one tiny network of each CNN block and a tiny ViT (ZigZag parses its graph: patch
Conv, Gemm and MatMul); figures hold together. An unparseable graph is a recorded error: test_errors.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hwbench.modelled.job import model_job
from hwbench.modelled.options import PRESETS
from hwbench.pipeline.modelled import ModelledTarget
from tests.modelled.conftest import TARGETS, needs_zigzag
from tests.modelled.helpers import job_for, modelled_target

pytestmark = [needs_zigzag(), pytest.mark.export]


# The presets no shipped target file uses (read without validating: collection must not need ZigZag).
OTHER_PRESETS = sorted(set(PRESETS) - {yaml.safe_load(p.read_text())["runner_options"]["accelerator"] for p in TARGETS})


@pytest.mark.parametrize("path", TARGETS, ids=lambda p: p.stem)
def test_preset_models_every_block(path, tiny_onnx: dict) -> None:
    check_every_block(modelled_target(path), tiny_onnx)


@pytest.mark.parametrize("preset", OTHER_PRESETS)
def test_every_other_shipped_preset_models_every_block(preset: str, tmp_path: Path, tiny_onnx: dict) -> None:
    data = {"name": preset, "description": "test", "runner": "zigzag", "export": {"format": "onnx", "opset": 18},
            "runner_options": {"accelerator": preset, "effort": "lowest"}}  # fmt: skip
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(data))
    check_every_block(modelled_target(tmp_path / "t.yaml"), tiny_onnx)


def check_every_block(mt: ModelledTarget, tiny_onnx: dict) -> None:
    cache: dict = {}
    for block, (onnx, _) in sorted(tiny_onnx.items()):
        result = model_job(job_for(mt, onnx, cache))
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
