"""Runners on a detector: every output in model order, and `outputs_call` equal to `run` (what detection timing uses)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hwbench.export.onnx import compare_all, model_outputs
from hwbench.measure.detection import time_detection
from hwbench.models import build_model
from hwbench.postprocess.nms import NmsSettings, postprocess
from hwbench.runners import get_runner
from hwbench.runners.tflite import _in_model_order
from tests.export.test_det_export import CLASSES, artifact, export, spread_weights, tiny_detector

pytestmark = pytest.mark.export

ROOT = Path(__file__).resolve().parents[2]
# (runner, runner options, artifact): every runner that opens a detector's artifact, both IO paths of onnxruntime.
CASES = [
    ("onnxruntime", {}, "onnx"),
    ("onnxruntime", {"io_binding": False}, "onnx"),
    ("openvino", {}, "onnx"),
    ("torch", {}, "torch"),
    ("tflite", {}, "tflite"),
    ("tflite", {}, "tflite_int8"),
]


@pytest.fixture(scope="module")
def det(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny SSD-lite detector with spread weights, its model and artifacts (ONNX, .pt2, .tflite fp32, full int8)."""
    root = tmp_path_factory.mktemp("det_runners")
    spec = tiny_detector(root / "design_spaces", "ssdlite")
    weights = spread_weights(root, spec)  # outputs that differ from image to image, even in int8
    paths = {fmt: artifact(root, export(root, spec, fmt, weights=weights)) for fmt in ("onnx", "torch", "tflite")}
    int8 = export(root, spec, "tflite", "int8", {"recipe": "full_int8", "calibration_samples": 4}, weights)
    paths["tflite_int8"] = artifact(root, int8)
    model = build_model(spec).eval()
    model.load_state_dict(torch.load(weights, weights_only=True))
    return {"spec": spec, "model": model, "paths": paths}


def images(n: int, seed: int) -> list[np.ndarray]:
    """Seeded [1, 3, 32, 32] float inputs."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((1, 3, 32, 32), dtype=np.float32) for _ in range(n)]


def open_session(det: dict, runner: str, options: dict, artifact_name: str):
    definition = get_runner(runner)
    return definition.open(det["paths"][artifact_name], 1, definition.options(**options))


@pytest.mark.parametrize(("runner", "options", "artifact_name"), CASES)
def test_outputs_call_equals_run(det: dict, runner: str, options: dict, artifact_name: str) -> None:
    session = open_session(det, runner, options, artifact_name)
    first, second = images(2, seed=5)
    call = session.outputs_call([first])
    got = call()
    n = int(det["model"].anchors.shape[0])
    assert [o.shape for o in got] == [(1, n, 4), (1, n, CLASSES)] and all(o.dtype == np.float32 for o in got)
    assert all(np.array_equal(a, b) for a, b in zip(got, session.run([first]), strict=True))
    kept = [o.copy() for o in got]
    # A later call on another image must not overwrite outputs already returned (the runtime reuses buffers).
    other = session.outputs_call([second])()
    assert all(np.array_equal(a, b) for a, b in zip(got, kept, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(other, session.run([second]), strict=True))
    assert not np.array_equal(other[1], got[1])
    reference = model_outputs(det["model"], torch.from_numpy(first))
    if artifact_name == "tflite_int8":
        boxes, scores = (np.corrcoef(r.ravel(), g.ravel())[0, 1] for r, g in zip(reference, got, strict=True))
        assert boxes > 0.999 and scores > 0.95  # int8: close, not equal
    else:
        assert compare_all(reference, got)["parity_ok"]


def test_detection_timing_on_a_real_session(det: dict) -> None:
    session = open_session(det, "tflite", {}, "tflite_int8")
    inputs = images(3, seed=7)
    settings = NmsSettings(score_threshold=0.2, max_detections=50)
    out = time_detection(lambda x: session.outputs_call([x]), inputs, settings, rounds=2, max_seconds=10)
    expected = [postprocess(*(o[0] for o in session.run([x])), settings) for x in inputs]
    assert out["above_threshold"] == [d.above_threshold for d in expected] and out["rounds"] == 2
    assert out["kept"] == [d.kept for d in expected] and all(k > 0 for k in out["kept"])


class FakeInterpreter:
    """Signature names as litert-torch writes them, over output details in another order."""

    def __init__(self, names: dict[str, int]) -> None:
        self.names = names

    def get_signature_list(self) -> dict:
        return {"serving_default": {"inputs": ["args_0"], "outputs": list(self.names)}}

    def get_signature_runner(self, key: str):
        names = self.names

        class Runner:
            def get_output_details(self) -> dict:
                return {name: {"index": index} for name, index in names.items()}

        return Runner()


def test_outputs_follow_the_signature_order() -> None:
    details = [{"index": 9}, {"index": 4}, {"index": 7}]
    named = {"output_0": 4, "output_10": 9, "output_2": 7}  # by number: output_2 before output_10
    assert [d["index"] for d in _in_model_order(FakeInterpreter(named), details)] == [4, 7, 9]
    # Names litert-torch does not write, or tensors the signature does not list: the subgraph's order is kept.
    assert _in_model_order(FakeInterpreter({"boxes": 4, "scores": 9, "x": 7}), details) == details
    assert _in_model_order(FakeInterpreter({"output_0": 4, "output_1": 9}), details[:2]) == details[:2][::-1]
    assert _in_model_order(FakeInterpreter({"output_0": 4, "output_1": 5}), details[:2]) == details[:2]


@pytest.mark.parametrize("runner", ["onnxruntime", "tflite"])
def test_outputs_call_without_torch(det: dict, runner: str) -> None:
    """The measuring side (what the agent runs on a board) reads a detector's outputs without torch."""
    path = det["paths"]["onnx" if runner == "onnxruntime" else "tflite_int8"]
    code = (
        "import json, sys, numpy as np\n"
        "from hwbench.runners import get_runner\n"
        f"d = get_runner({runner!r}); s = d.open({path!r}, 1, d.options())\n"
        "out = s.outputs_call([np.zeros((1, 3, 32, 32), np.float32)])()\n"
        "print(json.dumps({'shapes': [list(o.shape) for o in out], 'torch': 'torch' in sys.modules}))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    n = int(det["model"].anchors.shape[0])
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"shapes": [[1, n, 4], [1, n, CLASSES]], "torch": False}
