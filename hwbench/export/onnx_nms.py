"""In-graph post-processing for ONNX targets (onnxruntime, OpenVINO): ONNX NonMaxSuppression appended to a detector.

The detector graph ends at decoded boxes [1, N, 4] (xyxy pixels) and class scores [1, N, C]; `append_nms` adds
per-class NMS and the top `max_detections` by score, giving det_boxes [D, 4], det_scores [D], det_labels [D].

Where it differs from the host `hwbench.postprocess.nms.postprocess`:
- No pre-NMS top-k: ONNX's `max_output_boxes_per_class` (set to `pre_nms_top_k`) caps the boxes each class *keeps*
  after suppression, while the host keeps the top-k *candidates* by score before NMS. They agree whenever no
  class has more than `pre_nms_top_k` candidates above the score threshold.
- ONNX keeps scores strictly above its threshold; the graph gets the next float32 below `score_threshold`, which
  makes that the host's `score >= score_threshold`.
- Equal scores: onnxruntime pops candidates of equal score from a heap in no defined order (the host: lower box
  index first), so with exact ties the kept set can differ. TopK keeps index order on ties (class order), as the
  host's final sort does.
- `center_point_box = 0` reads each box as two opposite corners in either order, so xyxy boxes need no swap (IoU
  is the same with x and y exchanged); the host assumes x1 <= x2, which decoded boxes always satisfy.
- The graph returns detections only: the host's counts (above_threshold, after_top_k) are not available.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hwbench.postprocess.nms import NmsSettings

OUTPUTS = ("det_boxes", "det_scores", "det_labels")
# NonMaxSuppression-11 (corner order free) and TopK with the tie rule both need opset 11.
MIN_OPSET = 11


def _constants(settings: NmsSettings) -> dict[str, np.ndarray]:
    return {
        "nms_max_per_class": np.array(settings.pre_nms_top_k, np.int64),
        "nms_iou_threshold": np.array(settings.iou_threshold, np.float32),
        "nms_score_threshold": np.nextafter(np.float32(settings.score_threshold), np.float32(-np.inf)),
        "nms_max_detections": np.array([settings.max_detections], np.int64),
        "nms_zero": np.array(0, np.int64),
        "nms_one": np.array(1, np.int64),
        "nms_two": np.array(2, np.int64),
    }


def _nodes(boxes: str, scores: str) -> list[Any]:
    from onnx import helper

    n = helper.make_node
    return [
        n("Transpose", [scores], ["nms_scores_cn"], perm=[0, 2, 1]),  # [1, C, N], as NonMaxSuppression wants
        n(
            "NonMaxSuppression",
            [boxes, "nms_scores_cn", "nms_max_per_class", "nms_iou_threshold", "nms_score_threshold"],
            ["nms_selected"],  # [K, 3]: (batch, class, box), class by class, each by descending score
            center_point_box=0,
        ),
        n("GatherND", ["nms_scores_cn", "nms_selected"], ["nms_selected_scores"]),  # [K]
        n("Gather", ["nms_selected", "nms_one"], ["nms_selected_classes"], axis=1),
        n("Gather", ["nms_selected", "nms_two"], ["nms_selected_boxes"], axis=1),
        n("Shape", ["nms_selected_scores"], ["nms_count"]),
        n("Min", ["nms_count", "nms_max_detections"], ["nms_k"]),
        n("TopK", ["nms_selected_scores", "nms_k"], ["det_scores", "nms_order"], axis=0, largest=1, sorted=1),
        n("Gather", ["nms_selected_classes", "nms_order"], ["det_labels"], axis=0),
        n("Gather", ["nms_selected_boxes", "nms_order"], ["nms_box_ids"], axis=0),
        n("Gather", [boxes, "nms_zero"], ["nms_boxes_n4"], axis=0),  # [N, 4] of the one image
        n("Gather", ["nms_boxes_n4", "nms_box_ids"], ["det_boxes"], axis=0),
    ]


def _check(model: Any, path: Path) -> tuple[str, str]:
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < MIN_OPSET:
        raise ValueError(f"{path}: in-graph NMS needs opset >= {MIN_OPSET}, the graph has {opset}")
    outputs = [o.name for o in model.graph.output]
    if len(outputs) != 2:
        raise ValueError(f"{path}: expected two outputs (boxes [1,N,4], scores [1,N,C]), got {outputs}")
    dims = model.graph.output[0].type.tensor_type.shape.dim
    if len(dims) != 3 or (dims[2].HasField("dim_value") and dims[2].dim_value != 4):
        raise ValueError(f"{path}: the first output {outputs[0]!r} is not boxes [1, N, 4]")
    return outputs[0], outputs[1]


def append_nms(model_path_in: str | Path, model_path_out: str | Path, settings: NmsSettings) -> Path:
    """Write a copy of the detector at `model_path_in` whose outputs are det_boxes, det_scores and det_labels."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model_path_in, model_path_out = Path(model_path_in), Path(model_path_out)
    model = onnx.load(model_path_in)
    boxes, scores = _check(model, model_path_in)
    graph = model.graph
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in _constants(settings).items())
    graph.node.extend(_nodes(boxes, scores))
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info("det_boxes", TensorProto.FLOAT, ["detections", 4]),
            helper.make_tensor_value_info("det_scores", TensorProto.FLOAT, ["detections"]),
            helper.make_tensor_value_info("det_labels", TensorProto.INT64, ["detections"]),
        ]
    )
    onnx.checker.check_model(model)
    model_path_out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, model_path_out)
    return model_path_out
