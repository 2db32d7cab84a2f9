"""A graph the model cannot cost is a recorded error naming the operator and node, not a crash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hwbench.modelled.job import model_job
from tests.modelled.conftest import TARGETS, needs_zigzag
from tests.modelled.helpers import job_for, modelled_target

pytestmark = needs_zigzag()


def save(tmp_path: Path, node: onnx.NodeProto, x: list, y: list, weight: np.ndarray) -> Path:
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y)],
        [numpy_helper.from_array(weight, "w")],
    )
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


def test_an_operator_zigzag_cannot_parse_is_a_recorded_error(tmp_path: Path) -> None:
    # A 5-D matrix product: ZigZag's MatMul parser takes 2-, 3- or 4-D operands only.
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="big_matmul")
    path = save(tmp_path, node, [1, 2, 2, 4, 8], [1, 2, 2, 4, 16], np.ones((8, 16), np.float32))
    result = model_job(job_for(modelled_target(TARGETS[0]), path))
    assert result["status"] == "error"
    assert result["error"].startswith("ZigZag cannot parse MatMul node 'big_matmul': "), result["error"]


def test_a_costed_node_without_static_shapes_is_a_recorded_error(tmp_path: Path) -> None:
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="dyn_conv", kernel_shape=[3, 3])
    path = save(tmp_path, node, ["n", 3, "h", "w"], ["n", 4, "h2", "w2"], np.ones((4, 3, 3, 3), np.float32))
    result = model_job(job_for(modelled_target(TARGETS[0]), path))
    assert result["status"] == "error" and "Conv node 'dyn_conv': no static shape" in result["error"], result
