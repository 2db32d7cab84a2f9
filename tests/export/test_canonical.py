"""Canonical content: debugging metadata never changes an artifact's identity; the network always does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hwbench.export.artifacts import file_hash
from hwbench.export.canonical import canonicalize_onnx, content_hash


def _onnx(path: Path, weight: float, checkout: str | None) -> Path:
    """A one-node ONNX model; `checkout` writes dynamo-style debugging metadata naming that path."""
    w = numpy_helper.from_array(np.full((2, 2), weight, dtype=np.float32), "w")
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")
    if checkout:  # before make_graph, which copies the node
        helper.set_metadata_props(node, {"pkg.torch.onnx.stack_trace": f'File "{checkout}/hwbench/models/cnn.py"'})
        node.doc_string = f"{checkout}/hwbench/models/cnn.py:42"
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [w],
    )
    if checkout:
        helper.set_metadata_props(graph, {"pkg.torch.export.ExportedProgram.graph_signature": "x: USER_INPUT"})
        helper.set_metadata_props(graph.initializer[0], {"pkg.torch.onnx.original_node_name": "p_w"})
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(model, str(path))
    return path


def test_onnx_identity_ignores_debugging_metadata(tmp_path: Path) -> None:
    a = _onnx(tmp_path / "a.onnx", 1.0, "/home/alice/src")
    b = _onnx(tmp_path / "b.onnx", 1.0, "/builds/node7/checkout")
    plain = _onnx(tmp_path / "plain.onnx", 1.0, None)
    other = _onnx(tmp_path / "other.onnx", 2.0, "/home/alice/src")
    assert file_hash(a) != file_hash(b)
    assert content_hash(a) == content_hash(b) == content_hash(plain)
    assert content_hash(other) != content_hash(a)  # other weights: another network


def test_canonicalize_onnx_rewrites_the_same_bytes(tmp_path: Path) -> None:
    a = _onnx(tmp_path / "a.onnx", 1.0, "/home/alice/src")
    b = _onnx(tmp_path / "b.onnx", 1.0, "/builds/node7/checkout")
    assert canonicalize_onnx(a) == 4 and canonicalize_onnx(b) == 4
    assert a.read_bytes() == b.read_bytes()
    assert b"alice" not in a.read_bytes()
    onnx.checker.check_model(str(a))
    assert content_hash(a) == file_hash(a)  # a canonical ONNX file: its identity is its hash


@pytest.mark.export
def test_pt2_identity_ignores_stack_traces_and_file_name(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from hwbench.export.torch_pt2 import Pt2Options, export_pt2

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()).eval()
    x = torch.zeros(1, 4)
    # As torch.export.save writes it by default: stack traces kept, archive folder named after the file.
    raw = tmp_path / "tmp_random_name.pt2"
    torch.export.save(torch.export.export(model, (x,)), str(raw))
    facts = export_pt2(model, x, str(tmp_path / "a.pt2"), Pt2Options(), {})
    export_pt2(model, x, str(tmp_path / "b-other-name.pt2"), Pt2Options(), {})
    assert facts["debug_metadata_dropped"] > 0
    assert (tmp_path / "a.pt2").read_bytes() == (tmp_path / "b-other-name.pt2").read_bytes()
    assert b"stack_trace" not in (tmp_path / "a.pt2").read_bytes()
    assert file_hash(raw) != file_hash(tmp_path / "a.pt2")
    assert content_hash(raw) == content_hash(tmp_path / "a.pt2")
    torch.nn.init.ones_(model[0].weight)
    export_pt2(model, x, str(tmp_path / "c.pt2"), Pt2Options(), {})
    assert content_hash(tmp_path / "c.pt2") != content_hash(tmp_path / "a.pt2")


def test_artifact_version_reexports_only_changed_exporters() -> None:
    from hwbench.export import get_exporter
    from hwbench.store.keys import digest, export_key

    args = ("arch", {"format": "tflite", "precision": "fp32"}, {"torch": "2"}, 1)
    old = digest({"arch": "arch", "profile": args[1], "versions": args[2], "block_version": 1})
    assert export_key(*args) == export_key(*args, 0) == old  # unchanged exporters keep their keys and artifacts
    assert export_key(*args, 1) != old  # a changed exporter's earlier artifacts are exported again once
    assert get_exporter("onnx").artifact_version == get_exporter("torch").artifact_version == 1
    assert get_exporter("tflite").artifact_version == 0
