"""NMS and post-processing: a plain-loop reference (ties and empty input included), onnxruntime's NonMaxSuppression,
counts by hand, settings validation."""

from __future__ import annotations

import numpy as np
import pytest

from hwbench.errors import ConfigError
from hwbench.postprocess.nms import NmsSettings, nms, postprocess
from tests.postprocess.test_boxes import random_boxes


def iou_f32(a: np.ndarray, b: np.ndarray) -> np.float32:
    """IoU of two boxes, one float32 operation at a time (the arithmetic onnxruntime uses)."""
    w = max(np.float32(0), min(a[2], b[2]) - max(a[0], b[0]))
    h = max(np.float32(0), min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else np.float32(0)


def nms_reference(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy NMS with plain loops: best score first, lower index on ties."""
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        if all(iou_f32(boxes[i], boxes[k]) <= np.float32(iou_threshold) for k in keep):
            keep.append(i)
    return keep


def postprocess_reference(boxes: np.ndarray, scores: np.ndarray, s: NmsSettings) -> list[tuple[int, int, float]]:
    """(box, class, score) triples of the detections, by plain loops over classes and boxes."""
    found = []
    for c in range(scores.shape[1]):
        cand = [i for i in range(len(boxes)) if scores[i, c] >= np.float32(s.score_threshold)]
        cand = sorted(cand, key=lambda i: (-scores[i, c], i))[: s.pre_nms_top_k]
        kept = nms_reference(boxes[cand], scores[cand, c], s.iou_threshold)
        found += [(cand[k], c, float(scores[cand[k], c])) for k in kept]
    return sorted(found, key=lambda t: -t[2])[: s.max_detections]  # stable: class order on equal scores


def random_case(seed: int, n: int, c: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    """Boxes clustered so NMS has work; with `ties`, repeated boxes and scores on a coarse grid."""
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, n, size=60.0)
    scores = rng.random((n, c)).astype(np.float32)
    if ties and n:
        boxes[rng.integers(0, n, n // 4)] = boxes[rng.integers(0, n, n // 4)]
        scores = (np.round(scores * 4) / 4).astype(np.float32)
    return boxes, scores


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", range(20))
def test_nms_equals_the_plain_loop_reference(seed: int, ties: bool) -> None:
    # Up to 150 boxes: several blocks of the default size, and blocks of 7 and of 1 box.
    boxes, scores = random_case(seed, n=int(np.random.default_rng(seed).integers(0, 150)), c=1, ties=ties)
    for thr in (0.0, 0.3, 0.5, 1.0):
        expected = nms_reference(boxes, scores[:, 0], thr)
        assert nms(boxes, scores[:, 0], thr).tolist() == expected
        assert nms(boxes, scores[:, 0], thr, block=7).tolist() == expected
    assert nms(boxes, scores[:, 0], 0.5, block=1).tolist() == nms_reference(boxes, scores[:, 0], 0.5)


def test_nms_of_nothing_and_of_one_box() -> None:
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
    assert nms(np.array([[0, 0, 1, 1]]), np.array([0.2]), 0.5).tolist() == [0]


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", range(15))
def test_postprocess_equals_the_plain_loop_reference(seed: int, ties: bool) -> None:
    boxes, scores = random_case(seed, n=100, c=3, ties=ties)  # ~75 candidates per class: two blocks
    settings = NmsSettings(score_threshold=0.25, iou_threshold=0.45, pre_nms_top_k=7, max_detections=12)
    det = postprocess(boxes, scores, settings)
    ref = postprocess_reference(boxes, scores, settings)
    assert det.indices.tolist() == [i for i, _, _ in ref]
    assert det.labels.tolist() == [c for _, c, _ in ref]
    assert det.scores.tolist() == pytest.approx([s for _, _, s in ref])
    np.testing.assert_array_equal(det.boxes, boxes[[i for i, _, _ in ref]].reshape(-1, 4))
    assert det.kept == len(ref) and det.candidates == 300
    assert det.above_threshold == int((scores >= 0.25).sum())


def test_postprocess_of_no_boxes_or_no_candidates() -> None:
    empty = postprocess(np.zeros((0, 4)), np.zeros((0, 5)), NmsSettings())
    assert empty.boxes.shape == (0, 4) and empty.labels.dtype == np.int64 and empty.kept == 0 and empty.candidates == 0
    low = postprocess(np.ones((3, 4)), np.full((3, 2), 0.01), NmsSettings())
    assert low.candidates == 6 and low.above_threshold == 0 and low.scores.shape == (0,)


def test_counts_by_hand() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10.5]], np.float32)
    scores = np.array([[0.9, 0.1], [0.8, 0.3], [0.2, 0.7], [0.35, 0.29]], np.float32)
    s = NmsSettings(score_threshold=0.3, iou_threshold=0.5, pre_nms_top_k=2, max_detections=2)
    det = postprocess(boxes, scores, s)
    # class 0: boxes 0, 1, 3 pass (>= 0.3); top-2 keeps 0, 1; box 1 overlaps box 0 (IoU 81/119) -> [0]
    # class 1: boxes 1 (exactly 0.3) and 2 pass; no overlap -> [2, 1]; the cap of 2 drops (1, class 1, 0.3)
    assert (det.candidates, det.above_threshold, det.after_top_k, det.after_nms, det.kept) == (8, 5, 4, 3, 2)
    assert det.labels.tolist() == [0, 1] and det.scores.tolist() == pytest.approx([0.9, 0.7])
    np.testing.assert_array_equal(det.boxes, boxes[[0, 2]])


def ort_nms(boxes: np.ndarray, scores: np.ndarray, s: NmsSettings) -> np.ndarray:
    """onnxruntime's NonMaxSuppression on boxes [N, 4] and scores [N, C]: selected [K, 3] (batch, class, box)."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    consts = {
        "max_out": np.array(s.pre_nms_top_k, np.int64),
        "iou": np.array(s.iou_threshold, np.float32),
        # ONNX keeps scores > threshold; the next float below makes that the host's >= threshold.
        "score": np.nextafter(np.float32(s.score_threshold), np.float32(-1)),
    }
    node = helper.make_node("NonMaxSuppression", ["boxes", "scores", *consts], ["selected"], center_point_box=0)
    graph = helper.make_graph(
        [node],
        "nms",
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, None, 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, None, None]),
        ],
        [helper.make_tensor_value_info("selected", TensorProto.INT64, [None, 3])],
        initializer=[numpy_helper.from_array(v, k) for k, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"boxes": boxes[None], "scores": np.ascontiguousarray(scores.T[None])})[0]


@pytest.mark.parametrize("seed", range(10))
def test_per_class_nms_equals_onnxruntime(seed: int) -> None:
    # No tied scores: onnxruntime pops equal scores from a heap in no defined order.
    boxes, scores = random_case(seed, n=80, c=4, ties=False)
    s = NmsSettings(score_threshold=0.2, iou_threshold=0.4, pre_nms_top_k=1000, max_detections=10_000)
    selected = ort_nms(boxes, scores, s)
    det = postprocess(boxes, scores, s)
    assert 0 < det.kept == len(selected) < det.above_threshold  # NMS had boxes to suppress
    for c in range(4):
        theirs = selected[selected[:, 1] == c, 2].tolist()  # in onnxruntime's selection order
        assert det.indices[det.labels == c].tolist() == theirs  # ours: by score, the same order without ties
        cand = np.flatnonzero(scores[:, c] >= np.float32(0.2))
        assert cand[nms(boxes[cand], scores[cand, c], 0.4)].tolist() == theirs


def test_settings_key_and_validation() -> None:
    s = NmsSettings.from_dict({"score_threshold": 0, "pre_nms_top_k": 200, "placement": "graph"}, "t.yaml")
    assert s.key() == {
        "score_threshold": 0.0,
        "iou_threshold": 0.5,
        "pre_nms_top_k": 200,
        "max_detections": 100,
        "placement": "graph",
    }
    assert NmsSettings.from_dict(None) == NmsSettings()
    bad = [
        ({"iou_threshold": 1.5}, "nms.iou_threshold", "in \\[0, 1\\]"),
        ({"score_threshold": "high"}, "nms.score_threshold", "number"),
        ({"pre_nms_top_k": 0}, "nms.pre_nms_top_k", ">= 1"),
        ({"max_detections": 2.5}, "nms.max_detections", "integer"),
        ({"max_detections": True}, "nms.max_detections", "integer"),
        ({"placement": "gpu"}, "nms.placement", "host, graph"),
        ({"top_k": 5}, "nms.top_k", "unknown setting"),
    ]
    for data, key, message in bad:
        with pytest.raises(ConfigError, match=message) as err:
            NmsSettings.from_dict(data, "targets/x.yaml")
        assert err.value.source == "targets/x.yaml" and err.value.key == key
        assert str(err.value).startswith(f"targets/x.yaml: {key}: ")
