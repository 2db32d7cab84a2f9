"""Tiny networks exported once per test session for the modelled-target tests (ZigZag at its lowest effort)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbench.modelled import missing_reason
from tests.conftest import ROOT

TARGETS = sorted((ROOT / "targets").glob("model-*.yaml"))
CNN = {"resolution": 32, "num_classes": 10, "stem": {"width": 8}, "head": {"width": 16}}


def needs_zigzag() -> pytest.MarkDecorator:
    """Skip, saying why, where ZigZag cannot run (the accel extra; CI installs it)."""
    reason = missing_reason()
    return pytest.mark.skipif(reason is not None, reason=reason or "")


def cnn_spec(block: str) -> dict:
    """One stage of one block: the smallest network of a CNN block."""
    return {**CNN, "family": "cnn", "block": block, "stages": [{"depth": 1, "width": 16, "stride": 2}]}


def vit_spec() -> dict:
    """A 2-block ViT at 32 px, patch 8."""
    return {"family": "vit", "block": "vit", "resolution": 32, "num_classes": 10, "patch": 8, "width": 32,
            "heads": 2, "mlp_ratio": 2, "depth": 2, "params": {}}  # fmt: skip


def export_onnx(spec: dict, folder: Path) -> tuple[Path, str]:
    """(artifact path, spec JSON) of a spec exported as a modelled target exports it (fp32 ONNX, opset 18)."""
    from hwbench.config.target import load_target
    from hwbench.export.job import run_export
    from hwbench.space.archspec import ArchSpec

    target = load_target(TARGETS[0])
    arch = ArchSpec.from_dict(spec)
    job = {"spec_json": arch.canonical_json, "format": "onnx", "precision": "fp32", "options": target.export_options}
    result = run_export({**job, "artifact_dir": str(folder)})
    assert result["status"] == "ok", result.get("error")
    digest = result["artifact_hash"]
    return folder / digest[:2] / f"{digest}.onnx", arch.canonical_json


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """block → (ONNX file, spec JSON): one tiny network of every CNN block and a tiny ViT, exported once."""
    from hwbench.blocks import block_names

    folder = tmp_path_factory.mktemp("modelled_onnx")
    out = {block: export_onnx(cnn_spec(block), folder) for block in block_names("cnn")}
    out["vit"] = export_onnx(vit_spec(), folder)
    return out
