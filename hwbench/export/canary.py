"""Generate the committed canary models (hwbench/measure/canary_models/) from the fixed weights of measure.canary.

Run once when the reference network changes: `python -m hwbench.export.canary`, then paste the printed sha256
values into measure.canary.MODEL_FILES. The ONNX file is written with the onnx helper API (deterministic bytes,
opset 13 and IR version 7 so older onnxruntime and OpenVINO builds on boards load it); the TFLite file is converted
by litert-torch from the torch runner's canary module (the same weights). A board needs neither toolchain: it
loads the shipped files.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from hwbench.measure.canary import INPUT_SHAPE, MODELS_DIR, OUTPUT_SHAPE, SPATIAL, canary_weights
from hwbench.runners.torch_eager import canary_module

ONNX_OPSET = 13
ONNX_IR_VERSION = 7


def onnx_bytes() -> bytes:
    """The canary network as a serialized ONNX model."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = canary_weights()
    inits = [numpy_helper.from_array(w[k], k) for k in ("w1", "b1", "w2", "b2", "w3", "b3", "fc")]
    inits.append(numpy_helper.from_array(np.array([OUTPUT_SHAPE[0], SPATIAL], dtype=np.int64), "flat"))
    nodes = []
    x = "x"
    for i in (1, 2, 3):
        conv = helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        nodes += [conv, helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        x = f"r{i}"
    nodes += [helper.make_node("Reshape", [x, "flat"], ["rows"]), helper.make_node("MatMul", ["rows", "fc"], ["y"])]
    graph = helper.make_graph(
        nodes,
        "hwbench_canary",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(INPUT_SHAPE))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(OUTPUT_SHAPE))],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="hwbench.export.canary"
    )
    model.ir_version = ONNX_IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_tflite(path: Path) -> None:
    """Convert the torch canary to TFLite (fp32) at `path`."""
    import torch

    from hwbench.export.tflite import convert_fp32
    from hwbench.quiet import captured_output

    with captured_output():
        convert_fp32(canary_module(), torch.zeros(INPUT_SHAPE), str(path))


def main(argv: list[str] | None = None) -> None:
    """Write both canary files into `argv[0]` (default: the package's canary_models/) and print their sha256."""
    out = Path((argv or sys.argv[1:] or [str(MODELS_DIR)])[0])
    out.mkdir(parents=True, exist_ok=True)
    (out / "canary.onnx").write_bytes(onnx_bytes())
    write_tflite(out / "canary.tflite")
    for name in ("canary.onnx", "canary.tflite"):
        print(name, hashlib.sha256((out / name).read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
