"""Detection latency parts: fake calls on a fake clock give known parts, medians and counts; one real onnxruntime run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwbench.measure.detection import GRAPH_NOTE, nms_slope, time_detection
from hwbench.postprocess import nms as host_nms
from hwbench.postprocess.nms import NmsSettings

N_BOXES = 60


def grid_boxes() -> np.ndarray:
    """N_BOXES disjoint 8×8 boxes, so NMS keeps every candidate."""
    x, y = np.divmod(np.arange(N_BOXES), 10)
    return np.stack([x * 10, y * 10, x * 10 + 8, y * 10 + 8], axis=1).astype(np.float32)[None]


class FakeDetector:
    """Image i: the graph takes (1 + i) ms and scores 10 (i + 1) boxes at 0.9, the rest at 0.01.

    NMS is the real one; it advances the fake clock by 0.1 ms + 0.002 ms per candidate above the threshold.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0
        self.prepared: list[int] = []
        self.runs: list[int] = []
        real = host_nms.postprocess

        def timed_postprocess(boxes, scores, settings):
            det = real(boxes, scores, settings)
            self.now += int((0.1 + 0.002 * det.above_threshold) * 1e6)
            return det

        monkeypatch.setattr(host_nms, "postprocess", timed_postprocess)

    def clock(self) -> int:
        return self.now

    def call_for(self, x: np.ndarray):
        i = int(x[0])
        self.prepared.append(i)
        scores = np.full((1, N_BOXES, 1), 0.01, np.float32)
        scores[0, : 10 * (i + 1)] = 0.9

        def run() -> list[np.ndarray]:
            self.runs.append(i)
            self.now += (1 + i) * 1_000_000
            return [grid_boxes(), scores]

        return run


def test_parts_medians_and_counts_on_a_fake_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDetector(monkeypatch)
    inputs = [np.array([i], np.float32) for i in range(5)]
    settings = NmsSettings(pre_nms_top_k=35, max_detections=30)
    out = time_detection(fake.call_for, inputs, settings, rounds=3, max_seconds=60, clock=fake.clock)
    assert out["count"] == 5 and out["rounds"] == 3 and out["placement"] == "host" and out["nms_in_graph"] is False
    assert out["graph_ms"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert out["nms_ms"] == pytest.approx([0.12, 0.14, 0.16, 0.18, 0.2])
    assert out["e2e_ms"] == pytest.approx([1.12, 2.14, 3.16, 4.18, 5.2])  # one span: graph + NMS
    assert out["graph_median_ms"] == 3.0 and out["graph_p10_ms"] == pytest.approx(1.4)
    assert out["graph_p90_ms"] == pytest.approx(4.6)
    assert out["nms_median_ms"] == pytest.approx(0.16) and out["e2e_median_ms"] == pytest.approx(3.16)
    assert out["above_threshold"] == [10, 20, 30, 40, 50]
    assert out["after_top_k"] == [10, 20, 30, 35, 35]  # the per-class top-k of 35
    assert out["kept"] == [10, 20, 30, 30, 30]  # the max_detections cap of 30
    assert out["nms_ms_per_1000_candidates"] == pytest.approx(2.0)
    assert out["nms"] == settings.key() and "note" not in out
    # Warm-up once per image, then every image in every round, each prepared right before its run.
    assert fake.runs == fake.prepared and len(fake.runs) == 5 * (1 + 3)
    assert sorted(fake.runs[5:10]) == [0, 1, 2, 3, 4] and fake.runs[5:10] != fake.runs[10:15]


def test_the_time_cap_stops_after_a_complete_round(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDetector(monkeypatch)
    inputs = [np.array([0], np.float32)] * 4  # 1 ms graph + 0.12 ms NMS each: 4.48 ms per round
    out = time_detection(fake.call_for, inputs, NmsSettings(), rounds=50, max_seconds=0.012, clock=fake.clock)
    assert out["rounds"] == 2 and out["nms_ms_per_1000_candidates"] is None  # one distinct count: no slope


def test_graph_placement_times_the_graph_only_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDetector(monkeypatch)

    def call_for(x: np.ndarray):
        k = int(x[0])

        def run() -> list[np.ndarray]:
            fake.now += 2_000_000
            return [np.zeros((k, 4), np.float32), np.ones(k, np.float32), np.zeros(k, np.int64)]

        return run

    inputs = [np.array([k], np.float32) for k in (3, 0, 7)]
    out = time_detection(call_for, inputs, NmsSettings(placement="graph"), rounds=2, clock=fake.clock)
    assert out["nms_in_graph"] is True and out["note"] == GRAPH_NOTE and out["placement"] == "graph"
    assert out["graph_ms"] == out["e2e_ms"] == [2.0, 2.0, 2.0] and out["nms_ms"] is None
    assert out["nms_median_ms"] is None and out["nms_ms_per_1000_candidates"] is None
    assert out["kept"] == [3, 0, 7] and out["above_threshold"] == [None, None, None]


def test_slope_by_least_squares_and_no_images() -> None:
    # By hand: mean count 175, mean ms 2.625; Sxy = 862.5, Sxx = 87500 -> 862.5 / 87500 ms per box.
    assert nms_slope(np.array([1.0, 2.0, 2.5, 5.0]), [0, 100, 200, 400]) == pytest.approx(862.5 / 87500 * 1000)
    assert nms_slope(np.array([1.0, 2.0, 3.0]), [100, 100, 200]) is None
    with pytest.raises(ValueError, match="at least one real image"):
        time_detection(lambda x: lambda: [], [], NmsSettings())


def tiny_detector(path: Path, n: int, classes: int) -> Path:
    """A one-input ONNX 'detector': x [1, N, 4 + C] -> boxes = x[..., :4] (as xyxy), scores = sigmoid(x[..., 4:])."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    consts = {"zero": [0], "four": [4], "end": [4 + classes], "axis": [2]}
    nodes = [
        helper.make_node("Slice", ["x", "zero", "four", "axis"], ["boxes"]),
        helper.make_node("Slice", ["x", "four", "end", "axis"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n, 4 + classes])],
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, n, 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, n, classes]),
        ],
        initializer=[numpy_helper.from_array(np.array(v, np.int64), k) for k, v in consts.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    return path


def test_a_real_onnxruntime_session_host_and_in_graph(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    from hwbench.export.onnx_nms import append_nms

    rng = np.random.default_rng(0)
    inputs = []
    for bias in (-4.0, -2.0, 0.0, 1.0):  # more boxes above the threshold from image to image
        xy = rng.uniform(0, 200, (1, 300, 2))
        x = np.concatenate([xy, xy + rng.uniform(5, 40, (1, 300, 2)), rng.normal(bias, 1.5, (1, 300, 5))], axis=2)
        inputs.append(x.astype(np.float32))
    path = tiny_detector(tmp_path / "tiny.onnx", 300, 5)
    host = NmsSettings(score_threshold=0.3, pre_nms_top_k=1000, max_detections=1000)

    def call_for_model(model: Path):
        session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        return lambda x: lambda: session.run(None, {"x": x})

    out = time_detection(call_for_model(path), inputs, host, rounds=3)
    expected = [host_nms.postprocess(x[0, :, :4], 1 / (1 + np.exp(-x[0, :, 4:])), host) for x in inputs]
    assert out["above_threshold"] == [d.above_threshold for d in expected]
    assert out["kept"] == [d.kept for d in expected] and out["rounds"] == 3
    assert len(set(out["above_threshold"])) == 4 and out["nms_ms_per_1000_candidates"] is not None
    assert all(e >= g and e >= n > 0 for e, g, n in zip(out["e2e_ms"], out["graph_ms"], out["nms_ms"]))

    in_graph = append_nms(path, tmp_path / "tiny_nms.onnx", host)
    out_graph = time_detection(call_for_model(in_graph), inputs, NmsSettings(**{**host.key(), "placement": "graph"}))
    assert out_graph["kept"] == out["kept"] and out_graph["nms_ms"] is None  # the semantics agree here


def test_the_measuring_side_imports_only_stdlib_and_numpy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from hwbench.measure.detection import time_detection\n"
        "from hwbench.postprocess.boxes import decode\n"
        "from hwbench.postprocess.nms import NmsSettings\n"
        "x = [np.zeros(1, np.float32)]\n"
        "call = lambda x: lambda: [np.array([[[0, 0, 4, 4.0]]]), np.array([[[0.9]]])]\n"
        "out = time_detection(call, x, NmsSettings(), rounds=1)\n"
        "heavy = [m for m in ('torch', 'onnx', 'onnxruntime', 'pydantic', 'yaml', 'scipy') if m in sys.modules]\n"
        "print(out['kept'], heavy)\n"
    )
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=60, check=True)
    assert run.stdout.strip() == "[1] []"
