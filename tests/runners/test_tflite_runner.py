"""TFLite runner: threads, XNNPACK on/off, int8 quantization of inputs, interpreter fallback, bad files."""

import sys
from pathlib import Path

import numpy as np
import pytest

from hwbench.export.artifacts import ArtifactStore
from hwbench.export.job import run_export
from hwbench.runners import TensorSpec
from hwbench.runners import tflite as tflite_runner
from hwbench.runners.local import measure_artifact
from hwbench.runners.tflite import TfliteOptions, TfliteSession, dequantize, quantize
from tests.runners.test_runners import FAST, SPEC

SHIM = "from ai_edge_litert.interpreter import *  # noqa\n"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tfl")
    paths = {}
    for name, precision, options in (("fp32", "fp32", {}), ("int8", "int8", {"recipe": "full_int8"})):
        result = run_export(
            {
                "spec_json": SPEC.canonical_json,
                "format": "tflite",
                "precision": precision,
                "options": options,
                "artifact_dir": str(root),
            }
        )
        assert result["status"] == "ok", result.get("error")
        paths[name] = str(ArtifactStore(root).path(result["artifact_hash"], ".tflite"))
    return paths


def test_quantize_round_trip() -> None:
    spec = TensorSpec("x", (4,), "int8", scale=0.5, zero_point=-3)
    q = quantize(np.array([0.0, 1.0, -100.0, 100.0], np.float32), spec)
    assert q.dtype == np.int8 and list(q) == [-3, -1, -128, 127]  # clipped to the type's range
    back = dequantize(q, {"quantization": (0.5, -3)})
    assert back.dtype == np.float32 and back[1] == 1.0
    assert quantize(np.ones(2), TensorSpec("x", (2,), "float32")).dtype == np.float32


def test_int8_session_binds_float_inputs(models: dict[str, str]) -> None:
    session = TfliteSession(models["int8"], 1, TfliteOptions())
    [spec] = session.inputs()
    assert spec.dtype == "int8" and spec.scale > 0
    fn = session.prepare([np.zeros(spec.shape, np.float32)])
    fn()
    info = session.info()
    assert info["interpreter"] == "ai_edge_litert" and info["input_dtypes"] == ["int8"]
    assert info["delegation"]["delegated"] == info["delegation"]["ops"] > 0  # XNNPACK takes every int8 op here


@pytest.mark.parametrize("threads", [1, 2])
def test_xnnpack_off_runs_builtin_kernels(models: dict[str, str], threads: int) -> None:
    on = TfliteSession(models["fp32"], threads, TfliteOptions())
    off = TfliteSession(models["fp32"], threads, TfliteOptions(xnnpack=False))
    x = [np.random.default_rng(0).standard_normal(on.inputs()[0].shape, dtype=np.float32)]
    np.testing.assert_allclose(on.run(x)[0], off.run(x)[0], rtol=1e-4, atol=1e-6)
    report = off.info()["delegation"]
    assert report["partitions"] == 0 and report["delegated"] == 0 and sum(report["fallback"].values()) == report["ops"]
    assert on.info()["delegation"]["partitions"] >= 1


def test_tflite_runtime_fallback(models: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where ai-edge-litert is missing, `auto` takes tflite-runtime and says so in the record.

    tflite-runtime cannot be installed beside numpy 2, so a stand-in package re-exports LiteRT's interpreter
    under the tflite_runtime name; what is tested is the choice and the record, not tflite-runtime itself.
    """
    (tmp_path / "tflite_runtime").mkdir()
    (tmp_path / "tflite_runtime" / "__init__.py").write_text("")
    (tmp_path / "tflite_runtime" / "interpreter.py").write_text(SHIM)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(tflite_runner.INTERPRETERS, "ai_edge_litert", ("hwbench_no_such_module", "ai-edge-litert"))
    session = TfliteSession(models["int8"], 1, TfliteOptions(interpreter="auto"))
    info = session.info()
    assert info["interpreter"] == "tflite_runtime" and "no XNNPACK for int8" in info["caveat"]
    sys.modules.pop("tflite_runtime.interpreter", None)
    sys.modules.pop("tflite_runtime", None)


def test_no_interpreter_is_a_readable_record(models: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for flavour in ("ai_edge_litert", "tflite_runtime"):
        monkeypatch.setitem(tflite_runner.INTERPRETERS, flavour, (f"hwbench_no_{flavour}", flavour))
    result = measure_artifact({"runner": "tflite", "path": models["fp32"], "threads": 1, "protocol": FAST})
    assert result["status"] == "error"
    assert result["error"].startswith("RuntimeMissingError: the tflite runner needs ai_edge_litert or tflite_runtime")
    assert "pip install 'hwbench[tflite]'" in result["error"]


@pytest.mark.parametrize("cut", [0, 16, 2000])
def test_truncated_file_is_an_error_record(models: dict[str, str], tmp_path: Path, cut: int) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(Path(models["int8"]).read_bytes()[:cut])
    result = measure_artifact({"runner": "tflite", "path": str(bad), "threads": 1, "protocol": FAST})
    assert result["status"] == "error" and result["error"].startswith("ValueError: ")
