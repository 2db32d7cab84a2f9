"""A hybrid network exports to every format (ONNX, TFLite, torch) with parity, and OpenVINO runs its ONNX."""

from pathlib import Path

import numpy as np
import pytest

from hwbench.export import exporter_names, get_exporter
from hwbench.export.artifacts import ArtifactStore
from hwbench.export.job import run_export
from hwbench.space.archspec import ArchSpec

pytestmark = pytest.mark.export

# Three blocks, one per stage: every wrapped block's export path inside one graph.
SPEC = ArchSpec.from_dict(
    {
        "family": "cnn",
        "block": "hybrid",
        "resolution": 32,
        "num_classes": 10,
        "stem": {"width": 8},
        "stages": [
            {"depth": 1, "width": 8, "stride": 1, "params": {"block": "fused_mbconv", "expansion": 2}},
            {"depth": 2, "width": 16, "stride": 2, "params": {"block": "mbconv_se", "expansion": 3}},
            {"depth": 1, "width": 24, "stride": 2, "params": {"block": "basic"}},
        ],
        "head": {"width": 32},
    }
)


def export(tmp_path: Path, fmt: str) -> dict:
    result = run_export(
        {
            "spec_json": SPEC.canonical_json,
            "format": fmt,
            "precision": "fp32",
            "options": get_exporter(fmt).options().model_dump(),
            "artifact_dir": str(tmp_path),
        }
    )
    assert result["status"] == "ok", result.get("error")
    return result


@pytest.mark.parametrize("fmt", exporter_names())
def test_hybrid_exports_with_parity(tmp_path: Path, fmt: str) -> None:
    result = export(tmp_path, fmt)
    assert result["parity_ok"] and result["max_rel_err"] < 1e-4


def test_openvino_runs_the_hybrid_onnx(tmp_path: Path) -> None:
    import torch

    from hwbench.models import build_model
    from hwbench.runners.openvino import OpenvinoOptions, OpenvinoSession

    result = export(tmp_path, "onnx")
    session = OpenvinoSession(str(ArtifactStore(tmp_path).path(result["artifact_hash"], ".onnx")), 1, OpenvinoOptions())
    x = np.random.default_rng(2).standard_normal((1, 3, 32, 32), dtype=np.float32)
    with torch.no_grad():
        ref = build_model(SPEC)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(session.run([x])[0], ref, rtol=1e-4, atol=1e-5)
