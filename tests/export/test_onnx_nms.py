"""In-graph NMS: onnxruntime (and OpenVINO where installed) give the host's detections where the semantics agree,
and the documented per-class output cap where they do not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwbench.export.onnx_nms import OUTPUTS, append_nms
from hwbench.postprocess.nms import NmsSettings, postprocess
from tests.postprocess.test_nms import random_case

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def passthrough_detector(path: Path, classes: int, opset: int = 18, extra_output: bool = False) -> Path:
    """A stand-in for an exported detector: its outputs are its inputs, boxes [1, N, 4] and scores [1, N, C]."""
    from onnx import TensorProto, helper

    h = helper
    nodes = [h.make_node("Identity", ["image_boxes"], ["boxes"]), h.make_node("Identity", ["image_scores"], ["scores"])]
    outputs = [
        h.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, "N", 4]),
        h.make_tensor_value_info("scores", TensorProto.FLOAT, [1, "N", classes]),
    ]
    if extra_output:
        nodes.append(h.make_node("Identity", ["image_scores"], ["logits"]))
        outputs.append(h.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "N", classes]))
    inputs = [
        h.make_tensor_value_info("image_boxes", TensorProto.FLOAT, [1, "N", 4]),
        h.make_tensor_value_info("image_scores", TensorProto.FLOAT, [1, "N", classes]),
    ]
    graph = h.make_graph(nodes, "detector", inputs, outputs)
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", opset)]), path)
    return path


def run_graph(path: Path, boxes: np.ndarray, scores: np.ndarray) -> list[np.ndarray]:
    """The in-graph detections of one image, from onnxruntime."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == list(OUTPUTS)
    return session.run(None, {"image_boxes": boxes[None], "image_scores": scores[None]})


def run_openvino(path: Path, boxes: np.ndarray, scores: np.ndarray) -> list[np.ndarray]:
    """The in-graph detections of one image, from OpenVINO on the CPU (skipped where it is not installed)."""
    ov = pytest.importorskip("openvino", reason="openvino is not installed (extra hwbench[openvino])")
    compiled = ov.Core().compile_model(str(path), "CPU")
    result = compiled({"image_boxes": boxes[None], "image_scores": scores[None]})
    return [result[compiled.output(name)] for name in OUTPUTS]


RUNTIMES = {"onnxruntime": run_graph, "openvino": run_openvino}


def with_nms(tmp_path: Path, classes: int, settings: NmsSettings) -> Path:
    """The stand-in detector with in-graph NMS appended, checked strictly (types and shapes inferred)."""
    out = append_nms(passthrough_detector(tmp_path / "det.onnx", classes), tmp_path / "det_nms.onnx", settings)
    onnx.checker.check_model(onnx.load(out), full_check=True)
    return out


@pytest.mark.parametrize("seed", range(8))
def test_in_graph_detections_equal_the_host_where_semantics_agree(tmp_path: Path, seed: int) -> None:
    boxes, scores = random_case(seed, n=120, c=3, ties=False)
    # pre_nms_top_k above every class's candidate count: the per-class cap and the pre-NMS top-k both do nothing.
    settings = NmsSettings(score_threshold=0.3, iou_threshold=0.45, pre_nms_top_k=500, max_detections=25)
    det_boxes, det_scores, det_labels = run_graph(with_nms(tmp_path, 3, settings), boxes, scores)
    host = postprocess(boxes, scores, settings)
    assert host.after_nms > host.kept == 25  # the max_detections cap was exercised
    np.testing.assert_array_equal(det_labels, host.labels)
    np.testing.assert_array_equal(det_scores, host.scores)
    np.testing.assert_array_equal(det_boxes, host.boxes)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_scores_equal_to_the_threshold_are_kept_as_on_the_host(tmp_path: Path, runtime: str) -> None:
    boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], np.float32)
    scores = np.array([[0.25], [0.2499], [0.9]], np.float32)  # 0.25 is exact in float32
    settings = NmsSettings(score_threshold=0.25)
    det_boxes, det_scores, det_labels = RUNTIMES[runtime](with_nms(tmp_path, 1, settings), boxes, scores)
    np.testing.assert_array_equal(det_scores, np.float32([0.9, 0.25]))
    np.testing.assert_array_equal(det_scores, postprocess(boxes, scores, settings).scores)
    assert det_labels.tolist() == [0, 0]
    np.testing.assert_array_equal(det_boxes, boxes[[2, 0]])


def test_nothing_above_the_threshold_gives_empty_outputs(tmp_path: Path) -> None:
    boxes, scores = random_case(0, n=10, c=2, ties=False)
    det_boxes, det_scores, det_labels = run_graph(with_nms(tmp_path, 2, NmsSettings()), boxes, scores * 0.01)
    assert det_boxes.shape == (0, 4) and det_scores.shape == (0,) and det_labels.dtype == np.int64


def test_small_top_k_caps_the_kept_boxes_per_class_not_the_candidates(tmp_path: Path) -> None:
    boxes, scores = random_case(3, n=150, c=2, ties=False)
    best = np.argsort(-scores[:, 0])[:4]
    boxes[best] = boxes[best[0]]  # class 0's four best candidates are one box: NMS keeps one of them
    settings = NmsSettings(score_threshold=0.1, iou_threshold=0.5, pre_nms_top_k=4, max_detections=100)
    _, det_scores, det_labels = run_graph(with_nms(tmp_path, 2, settings), boxes, scores)
    # The graph: all candidates through NMS, then each class's first 4 survivors.
    everything = postprocess(boxes, scores, NmsSettings(score_threshold=0.1, pre_nms_top_k=10**6, max_detections=10**6))
    expected = np.concatenate([everything.scores[everything.labels == c][:4] for c in range(2)])
    np.testing.assert_array_equal(det_scores, np.sort(expected)[::-1])
    assert sorted(det_labels.tolist()) == [0] * 4 + [1] * 4
    # The host: only the 4 best candidates per class enter NMS, so overlapping ones leave fewer than 4 kept.
    host = postprocess(boxes, scores, settings)
    assert host.after_top_k == 8 and host.kept < len(det_scores) == 8


def test_bad_graphs_are_refused_naming_the_file(tmp_path: Path) -> None:
    old = passthrough_detector(tmp_path / "old.onnx", 2, opset=10)
    with pytest.raises(ValueError, match=r"old\.onnx: in-graph NMS needs opset >= 11, the graph has 10"):
        append_nms(old, tmp_path / "x.onnx", NmsSettings())
    three = passthrough_detector(tmp_path / "three.onnx", 2, extra_output=True)
    with pytest.raises(ValueError, match=r"three\.onnx: expected two outputs"):
        append_nms(three, tmp_path / "x.onnx", NmsSettings())
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("seed", range(3))
def test_openvino_cpu_gives_the_same_detections(tmp_path: Path, seed: int) -> None:
    boxes, scores = random_case(seed, n=120, c=3, ties=False)
    settings = NmsSettings(score_threshold=0.3, iou_threshold=0.45, pre_nms_top_k=500, max_detections=25)
    det_boxes, det_scores, det_labels = run_openvino(with_nms(tmp_path, 3, settings), boxes, scores)
    host = postprocess(boxes, scores, settings)
    np.testing.assert_array_equal(det_labels, host.labels)
    np.testing.assert_array_equal(det_scores, host.scores)
    np.testing.assert_array_equal(det_boxes, host.boxes)
