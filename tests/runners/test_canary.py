"""The canary on each runner's own runtime: the shipped files are the ones built, every runner computes the same
reference network, a result records which canary ran, and numpy stands in (and says why) where a runtime cannot."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from hwbench.measure import canary as canary_mod
from hwbench.measure.canary import (
    MODEL_FILES,
    NUMPY_KIND,
    OUTPUT_SHAPE,
    CanaryFileError,
    canary_input,
    canary_weights,
    model_file,
)
from hwbench.runners import get_runner, runner_names
from hwbench.runners.canary import NETWORK_ID, close_all, open_canary
from hwbench.runners.local import measure_artifact

FAST = {"warmup_runs": 2, "warmup_seconds": 0.0, "min_runs": 6, "min_seconds": 0.0, "max_runs": 30, "max_seconds": 1.0}


@pytest.fixture(autouse=True)
def fresh_sessions():
    """Each test opens its own canaries (sessions are otherwise kept per process)."""
    close_all()
    yield
    close_all()


def reference_output() -> np.ndarray:
    """The canary network in plain numpy (im2col convolutions): what every runtime must compute."""
    w, x = canary_weights(), canary_input()[0].astype(np.float64)
    for i in (1, 2, 3):
        k = w[f"w{i}"].astype(np.float64)
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
        h, wd = x.shape[1:]
        cols = np.stack([padded[:, a : a + h, b : b + wd] for a in range(3) for b in range(3)], axis=1)
        out = np.einsum("ckhw,ock->ohw", cols, k.reshape(k.shape[0], k.shape[1], 9)) + w[f"b{i}"][:, None, None]
        x = np.maximum(out, 0.0)
    return x.reshape(OUTPUT_SHAPE[0], -1) @ w["fc"].astype(np.float64)


def test_shipped_files_match_their_sha256_and_a_changed_file_is_refused(tmp_path: Path, monkeypatch) -> None:
    for fmt, (name, digest) in MODEL_FILES.items():
        path = model_file(fmt)
        assert path is not None and path.name == name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert model_file("torch") is None  # built in code by its runner, no file
    (tmp_path / "canary.onnx").write_bytes(b"not the canary")
    monkeypatch.setattr(canary_mod, "MODELS_DIR", tmp_path)
    monkeypatch.setattr(canary_mod, "_VERIFIED", {})
    with pytest.raises(CanaryFileError, match=r"canary\.onnx has sha256 .*expected 9cc8a5f3822a"):
        model_file("onnx")
    with pytest.raises(CanaryFileError, match=r"canary\.tflite cannot be read"):
        model_file("tflite")


def test_onnx_canary_is_rebuilt_byte_for_byte() -> None:
    """The committed file is what the build script writes (the TFLite one is checked in the extended test)."""
    from hwbench.export.canary import onnx_bytes

    assert onnx_bytes() == model_file("onnx").read_bytes()


@pytest.mark.parametrize("name", runner_names())
def test_every_runner_runs_the_same_canary_network(name: str) -> None:
    runner = get_runner(name)
    canary = open_canary(name, 1, runner.options())
    assert canary.fallback is None and canary.kind == f"{name}:{NETWORK_ID}"
    assert open_canary(name, 1, runner.options()) is canary  # opened once per process
    [out] = canary.session.run([canary_input()])
    assert out.shape == OUTPUT_SHAPE
    np.testing.assert_allclose(out, reference_output(), rtol=1e-4, atol=1e-4)
    found = canary.run()
    assert found["kind"] == canary.kind and found["median_ms"] > 0 and found["calls"] >= 1
    # One repetition lasts at least the scheduler-slice length the canary is built on (or the call cap).
    assert found["calls"] * found["median_ms"] >= 0.5 * canary_mod.REPETITION_MS or found["calls"] == 256


@pytest.mark.parametrize("name", [n for n in runner_names() if get_runner(n).format != "torch"])
def test_a_result_records_the_runtime_canary(name: str) -> None:
    fmt = get_runner(name).format
    result = measure_artifact({"runner": name, "path": str(model_file(fmt)), "threads": 1, "protocol": FAST})
    assert result["status"] == "ok", result.get("error")
    canary = result["info"]["canary"]
    assert canary["kind"] == f"{name}:{NETWORK_ID}" and "fallback" not in canary
    assert canary["before_ms"] > 0 and canary["after_ms"] > 0 and canary["calls"] >= 1


def test_a_runtime_without_a_canary_falls_back_to_numpy_and_says_why(monkeypatch) -> None:
    # An Edge TPU delegate needs a compiled model: the canary file cannot be opened with the target's options.
    edgetpu = get_runner("tflite").options(delegate="edgetpu")
    found = open_canary("tflite", 1, edgetpu)
    assert found.kind == NUMPY_KIND and "not compiled for the Edge TPU" in found.fallback
    assert found.run()["kind"] == NUMPY_KIND
    # A format with no canary model at all (a runner added later): numpy, with the reason in the record.
    artifact = str(model_file("onnx"))
    monkeypatch.setattr("hwbench.runners.canary.model_file", lambda fmt: None)
    result = measure_artifact({"runner": "onnxruntime", "path": artifact, "threads": 1, "protocol": FAST})
    assert result["status"] == "ok", result.get("error")
    canary = result["info"]["canary"]
    assert canary["kind"] == NUMPY_KIND and "no canary model for onnx" in canary["fallback"]


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs /proc/stat (Linux)")
def test_a_re_measure_is_refused_while_the_canary_is_still_slow() -> None:
    # The block's baseline says this machine ran the canary 4x faster than it does now (a slow-down with no other
    # process on the core, which the foreign share cannot see): the wait ends without quiet, nothing is timed.
    path = str(model_file("onnx"))
    quiet = open_canary("onnxruntime", 1, get_runner("onnxruntime").options()).run()["median_ms"]
    slow = {**FAST, "quiet_wait_seconds": 0.7, "quiet_canary_ms": quiet / 4}
    result = measure_artifact({"runner": "onnxruntime", "path": path, "threads": 1, "protocol": slow})
    assert result["status"] == "busy" and "samples" not in result and result["device_seconds"] == 0.0
    wait = result["info"]["quiet_wait"]
    assert wait["quiet"] is False and 0.5 <= wait["waited_s"] <= 1.5
    if wait["foreign_share"] <= 0.1:  # the cores were free, so the canary ran and was the reason
        assert wait["canary_drift"] > 1.0 and "canary +" in result["error"]
    # Against an honest baseline the same re-measure runs (unless another process holds the core right now).
    fair = {**slow, "quiet_canary_ms": quiet * 2}
    result = measure_artifact({"runner": "onnxruntime", "path": path, "threads": 1, "protocol": fair})
    if result["status"] == "busy":
        assert "foreign CPU" in result["error"], result["error"]
    else:
        assert result["status"] == "ok" and result["info"]["quiet_wait"]["quiet"] is True


@pytest.mark.extended
@pytest.mark.export
def test_tflite_canary_is_rebuilt_byte_for_byte(tmp_path: Path) -> None:
    from hwbench.export.canary import write_tflite

    write_tflite(tmp_path / "canary.tflite")
    assert (tmp_path / "canary.tflite").read_bytes() == model_file("tflite").read_bytes()


def test_the_agents_measurement_child_runs_the_runtime_canary() -> None:
    """What a board runs: the agent's worker process (numpy + the runtime, no torch) finds the shipped canary."""
    from hwbench.agent.worker import MeasureWorker

    worker = MeasureWorker()
    try:
        job = {"runner": "tflite", "path": str(model_file("tflite")), "threads": 1, "protocol": FAST}
        result = worker.run(job, timeout=120)
    finally:
        worker.close()
    assert result["status"] == "ok", result.get("error")
    assert result["info"]["canary"]["kind"] == f"tflite:{NETWORK_ID}"


@pytest.mark.parametrize("io_binding", [True, False])
def test_no_session_of_the_measured_network_is_alive_while_the_canary_runs(
    tmp_path: Path, monkeypatch, io_binding: bool
) -> None:
    # Regression: the prepared call kept the network's 2-thread session alive after `close`, the canary shared the
    # cores with its thread pool and every result of a 2-thread target was flagged disturbed.
    import weakref

    import hwbench.runners.local as local
    from hwbench.runners.onnxruntime import OrtSession

    network = tmp_path / "network.onnx"
    network.write_bytes(model_file("onnx").read_bytes())
    opened: list[weakref.ref] = []
    original_init = OrtSession.__init__

    def recording_init(self, path, threads, options) -> None:
        original_init(self, path, threads, options)
        if path == str(network):
            opened.append(weakref.ref(self.session))

    alive_at_canary: list[int] = []

    class Watched:
        def __init__(self, inner) -> None:
            self.inner, self.kind, self.fallback = inner, inner.kind, inner.fallback

        def run(self):
            alive_at_canary.append(sum(ref() is not None for ref in opened))
            return self.inner.run()

    monkeypatch.setattr(OrtSession, "__init__", recording_init)
    monkeypatch.setattr(local, "open_canary", lambda *args: Watched(open_canary(*args)))
    job = {
        "runner": "onnxruntime",
        "path": str(network),
        "threads": 2,
        "options": {"io_binding": io_binding},
        "protocol": {**FAST, "rel_ci": 0.5},
    }
    result = measure_artifact(job)
    assert result["status"] == "ok", result.get("error")
    assert len(opened) == 1 and alive_at_canary == [0, 0]  # before and after the timed window: none alive
