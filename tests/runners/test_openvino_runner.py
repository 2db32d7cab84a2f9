"""OpenVINO runner: explicit precision recorded, threads and streams applied, bad files and no telemetry."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hwbench.blocks import block_names
from hwbench.runners.local import measure_artifact
from hwbench.runners.openvino import OpenvinoOptions, OpenvinoSession
from tests.runners.test_runners import FAST, ROOT


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    from hwbench.export.artifacts import ArtifactStore
    from hwbench.export.job import run_export
    from tests.runners.test_runners import SPEC

    root = tmp_path_factory.mktemp("ov")
    result = run_export(
        {
            "spec_json": SPEC.canonical_json,
            "format": "onnx",
            "precision": "fp32",
            "options": {},
            "artifact_dir": str(root),
        }
    )
    assert result["status"] == "ok", result.get("error")
    return str(ArtifactStore(root).path(result["artifact_hash"], ".onnx"))


@pytest.mark.parametrize("threads", [1, 2])
def test_f32_is_explicit_and_recorded(onnx_path: str, threads: int) -> None:
    # In a fresh process: OpenVINO's CPU plugin reads the cores it may use once per process, and an earlier
    # in-process measurement job (pinned to one core while it ran) would cap this session at one thread.
    code = (
        "import json, numpy as np\n"
        "from hwbench.runners.openvino import OpenvinoOptions, OpenvinoSession\n"
        f"s = OpenvinoSession({onnx_path!r}, {threads}, OpenvinoOptions())\n"
        "s.prepare([np.zeros((1, 3, 32, 32), np.float32)])()\n"
        "print(json.dumps(s.info()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["inference_precision"] == "f32" and info["requested_precision"] == "f32"
    assert "bf16" not in info["runtime_precisions"] and "f32" in info["runtime_precisions"]
    assert info["threads"] == threads and info["streams"] == 1


def test_bf16_request_is_recorded_as_effective(onnx_path: str) -> None:
    session = OpenvinoSession(onnx_path, 1, OpenvinoOptions(inference_precision="bf16"))
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32), dtype=np.float32)
    low = session.run([x])[0]
    ref = OpenvinoSession(onnx_path, 1, OpenvinoOptions()).run([x])[0]
    info = session.info()
    assert info["requested_precision"] == "bf16"
    # The CPU plugin falls back to f32 where the CPU has no bf16; whichever it chose is what is recorded.
    assert info["inference_precision"] in ("bf16", "f32")
    if info["inference_precision"] == "bf16":
        assert "bf16" in info["runtime_precisions"]
    assert np.allclose(low, ref, rtol=0.1, atol=0.05)


def test_truncated_onnx_is_one_readable_line(onnx_path: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(Path(onnx_path).read_bytes()[:300])
    result = measure_artifact({"runner": "openvino", "path": str(bad), "threads": 1, "protocol": FAST})
    assert result["status"] == "error" and "\n" not in result["error"]
    assert result["error"].startswith(f"RuntimeError: OpenVINO could not load {bad}")


def test_measuring_starts_no_telemetry_process(onnx_path: str) -> None:
    """Importing openvino would fork a usage-telemetry sender; the measuring process must start none."""
    code = (
        "import json, multiprocessing.popen_fork as pf, sys\n"
        "forks = []\n"
        "orig = pf.Popen._launch\n"
        "pf.Popen._launch = lambda self, f: (forks.append(1), orig(self, f))[1]\n"
        "from hwbench.runners.local import measure_artifact\n"
        f"r = measure_artifact({{'runner': 'openvino', 'path': {onnx_path!r}, 'threads': 1, 'protocol': {FAST!r}}})\n"
        "import time; time.sleep(1.0)  # the sender starts from a background thread\n"
        "print(json.dumps({'status': r['status'], 'forks': len(forks), 'torch': 'torch' in sys.modules,"
        " 'pydantic': 'pydantic' in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "status": "ok",
        "forks": 0,
        "torch": False,
        "pydantic": False,
    }


@pytest.mark.parametrize("block", block_names("cnn"))
def test_every_block_matches_torch(tmp_path: Path, block: str) -> None:
    import torch

    from hwbench.export.artifacts import ArtifactStore
    from hwbench.export.job import run_export
    from hwbench.models import build_model
    from tests.export.test_exporters import tiny_spec

    spec = tiny_spec(block)
    result = run_export(
        {
            "spec_json": spec.canonical_json,
            "format": "onnx",
            "precision": "fp32",
            "options": {},
            "artifact_dir": str(tmp_path),
        }
    )
    assert result["status"] == "ok", result.get("error")
    session = OpenvinoSession(str(ArtifactStore(tmp_path).path(result["artifact_hash"], ".onnx")), 1, OpenvinoOptions())
    x = np.random.default_rng(2).standard_normal((1, 3, 32, 32), dtype=np.float32)
    with torch.no_grad():
        ref = build_model(spec)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(session.run([x])[0], ref, rtol=1e-4, atol=1e-5)
