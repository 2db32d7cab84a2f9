"""Every runner on its artifact: outputs match PyTorch, the timing job returns a full record, no torch import."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hwbench.export import get_exporter
from hwbench.export.job import run_export
from hwbench.models import build_model
from hwbench.runners import get_runner, random_inputs, runner_names
from hwbench.runners.local import measure_artifact
from hwbench.space.archspec import ArchSpec

ROOT = Path(__file__).resolve().parents[2]
SPEC = ArchSpec.from_dict(
    {
        "family": "cnn",
        "block": "mbconv_se",
        "resolution": 32,
        "num_classes": 10,
        "stem": {"width": 8},
        "stages": [{"depth": 1, "width": 16, "stride": 2}],
        "head": {"width": 16},
    }
)
FAST = {
    "warmup_runs": 2,
    "warmup_seconds": 0.0,
    "min_runs": 5,
    "min_seconds": 0.0,
    "max_runs": 30,
    "max_seconds": 1.0,
    "rel_ci": 0.05,
}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("art")
    paths = {}
    for name in runner_names():
        fmt = get_runner(name).format
        exporter = get_exporter(fmt)
        result = run_export(
            {
                "spec_json": SPEC.canonical_json,
                "format": fmt,
                "precision": "fp32",
                "options": exporter.options().model_dump(),
                "artifact_dir": str(root),
            }
        )
        assert result["status"] == "ok", result.get("error")
        paths[name] = root / result["artifact_hash"][:2] / f"{result['artifact_hash']}{exporter.extension}"
    return paths


@pytest.mark.parametrize("name", runner_names())
def test_runner_output_matches_torch(name: str, artifacts: dict[str, Path]) -> None:
    runner = get_runner(name)
    session = runner.open(str(artifacts[name]), 1, runner.options())
    [spec] = session.inputs()
    assert spec.shape == (1, 3, 32, 32)
    x = random_inputs(session.inputs(), seed=3)
    [out] = session.run(x)
    with torch.no_grad():
        ref = build_model(SPEC)(torch.from_numpy(x[0])).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    fn = session.prepare(x)
    fn()
    session.close()


@pytest.mark.parametrize("name", runner_names())
def test_measure_job_record(name: str, artifacts: dict[str, Path]) -> None:
    result = measure_artifact({"runner": name, "path": str(artifacts[name]), "threads": 1, "protocol": FAST})
    assert result["status"] == "ok", result.get("error")
    assert 5 <= result["n_runs"] <= 30 and result["median_ms"] > 0
    assert result["ci_low_ms"] <= result["median_ms"] <= result["ci_high_ms"]
    assert len(np.frombuffer(result["samples"], "<f4")) == result["n_runs"]
    prov = result["provenance"]
    # The runtime's own distribution is installed (tflite also lists tflite-runtime, its fallback).
    assert prov["machine"]["cpu_count"] >= 1 and prov["versions"][get_runner(name).distributions[0]]
    assert "loadavg_1m" in result["info"]["conditions_before"]


def test_broken_artifact_is_an_error_record(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x01garbage")
    result = measure_artifact({"runner": "onnxruntime", "path": str(bad), "threads": 1, "protocol": FAST})
    assert result["status"] == "error" and result["error"]


@pytest.mark.parametrize("name", [n for n in runner_names() if n != "torch"])
def test_measuring_side_never_imports_torch(artifacts: dict[str, Path], name: str) -> None:
    """The measurement path (what the agent runs on a board) loads without torch or pydantic."""
    code = (
        "import sys, json\n"
        "from hwbench.runners.local import measure_artifact\n"
        f"r = measure_artifact({{'runner': {name!r}, 'path': {str(artifacts[name])!r}, 'threads': 1,"
        f" 'protocol': {FAST!r}}})\n"
        "print(json.dumps({'status': r['status'], 'torch': 'torch' in sys.modules, 'pydantic': 'pydantic' in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"status": "ok", "torch": False, "pydantic": False}


def test_measuring_in_process_restores_the_allowed_cores(artifacts: dict[str, Path]) -> None:
    # The job pins itself to its measurement cores; a later job in the same process (another thread count, or the
    # caller itself) must see every core it had before, or a 2-thread runtime silently runs on one.
    before = os.sched_getaffinity(0)
    result = measure_artifact(
        {"runner": "onnxruntime", "path": str(artifacts["onnxruntime"]), "threads": 1, "protocol": FAST}
    )
    assert result["status"] == "ok" and result["info"]["interference"]["pinned"]
    assert os.sched_getaffinity(0) == before
