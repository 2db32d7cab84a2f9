"""ONNX export (torch.onnx, dynamo by default), structural check and onnxruntime parity."""

from __future__ import annotations

import logging
import time
import warnings
from collections import Counter
from typing import Any, Literal

import numpy as np
from pydantic import Field

from hwbench.config import Strict
from hwbench.export import EXPORTERS, ExporterDef
from hwbench.export.canonical import canonicalize_onnx


class OnnxOptions(Strict):
    """ONNX export knobs."""

    opset: int = Field(18, ge=17, le=23)
    # dynamo: 1.4-6 s per model, handles every block here; torchscript: ~10x faster, deprecated,
    # and wrong on scatter_reduce. See benchmarks/export_bench.py for the measured choice.
    exporter: Literal["dynamo", "torchscript"] = "dynamo"


def export_onnx(model: Any, x: Any, path: str, options: OnnxOptions, context: dict[str, Any]) -> dict[str, Any]:
    """Write `model` as ONNX to `path` and check it with onnx.checker."""
    import onnx
    import torch

    # The dynamo exporter logs a warning per missing torchvision op; they are irrelevant here.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if options.exporter == "dynamo":
            program = torch.onnx.export(model, (x,), dynamo=True, opset_version=options.opset, verbose=False)
            program.save(path, external_data=False)  # one self-contained file, content-hashable
        else:
            torch.onnx.export(
                model,
                (x,),
                path,
                dynamo=False,
                opset_version=options.opset,
                input_names=["input"],
                output_names=["output"],
            )
    seconds = time.perf_counter() - start
    # The dynamo exporter writes each node's stack trace (absolute paths of this checkout), FX node text and
    # class hierarchies: dropped, so the bytes depend only on the network and the converter versions.
    stripped = canonicalize_onnx(path)
    onnx.checker.check_model(path)
    return {"export_seconds": seconds, "debug_metadata_dropped": stripped}


def inspect_onnx(path: str) -> dict[str, Any]:
    """Operator counts and opset of an ONNX file."""
    import onnx

    model = onnx.load(path, load_external_data=False)
    ops = Counter(node.op_type for node in model.graph.node)
    opset = {imp.domain or "ai.onnx": imp.version for imp in model.opset_import}
    return {"ops": dict(sorted(ops.items())), "n_ops": sum(ops.values()), "opset": opset}


def parity_onnx(path: str, model: Any, x: Any, options: OnnxOptions, context: dict[str, Any]) -> dict[str, Any]:
    """Max abs/rel error of onnxruntime's outputs against PyTorch's on the same input (every output)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    got = session.run(None, {name: x.numpy()})
    return compare_all(model_outputs(model, x), [np.asarray(g) for g in got])


def model_outputs(model: Any, x: Any) -> list[Any]:
    """A torch module's outputs on `x` as numpy arrays, nested tuples flattened in order.

    One array for a classifier; (boxes, scores) for a detector (hwbench.models.detector).
    """
    import torch

    with torch.no_grad():
        out = model(x)
    flat: list[Any] = []
    pending = [out]
    while pending:
        item = pending.pop(0)
        if isinstance(item, (tuple, list)):
            pending[:0] = list(item)  # depth first, so the order is the model's
        else:
            flat.append(item.numpy())
    return flat


def compare_all(refs: list[Any], gots: list[Any]) -> dict[str, Any]:
    """Parity over every output: ok only when all are; worst errors on top, per-output figures under `outputs`.

    A single output gives exactly `compare_outputs`'s figures (classifier records stay as they were).
    """
    if len(refs) != len(gots):
        return {"parity_ok": False, "max_abs_err": None, "note": f"{len(gots)} outputs != {len(refs)}"}
    if len(refs) == 1:
        return compare_outputs(refs[0], gots[0])
    each = [compare_outputs(r, g) for r, g in zip(refs, gots, strict=True)]
    return {
        "parity_ok": all(e["parity_ok"] for e in each),
        "max_abs_err": _worst([e["max_abs_err"] for e in each]),
        "max_rel_err": _worst([e.get("max_rel_err") for e in each]),
        "outputs": [{"index": i, "shape": list(np.shape(r)), **e} for i, (r, e) in enumerate(zip(refs, each))],
    }


def _worst(values: list[float | None]) -> float | None:
    """The largest figure, or None when any output has none (a shape mismatch)."""
    present = [v for v in values if v is not None]
    return max(present) if len(present) == len(values) else None


def compare_outputs(ref: Any, got: Any) -> dict[str, Any]:
    """Parity figures between a reference output and an artifact's output."""
    ref = np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    if ref.shape != got.shape:
        return {"parity_ok": False, "max_abs_err": None, "note": f"shape {got.shape} != {ref.shape}"}
    err = float(np.max(np.abs(ref - got))) if ref.size else 0.0
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    rel = err / max(scale, 1e-12)
    # fp32 kernels reorder sums; 1e-4 of the output scale is far above that noise and far below a real bug.
    return {"parity_ok": bool(rel <= 1e-4 or err <= 1e-5), "max_abs_err": err, "max_rel_err": rel}


EXPORTERS.register("onnx")(
    ExporterDef(
        format="onnx",
        extension=".onnx",
        options=OnnxOptions,
        export=export_onnx,
        inspect=inspect_onnx,
        parity=parity_onnx,
        distributions=("torch", "onnx", "onnxscript"),
        artifact_version=1,  # debugging metadata dropped (hwbench.export.canonical)
    )
)
