"""Per-artifact facts for the results table, read from the export and measurement records' info JSON.

Columns (NaN / None where they do not apply, e.g. delegation for ONNX):
- `convert_seconds`: litert-torch fp32 conversion (for int8: of the fp32 file it started from);
  `quantize_seconds`: the int8 recipe, calibration included; `n_ops`: operators in the artifact.
- `delegated_ops` / `fallback_ops`: operators XNNPACK took / left to the builtin kernels;
  `fallback_op_types`: which ones ("GELU×4, SOFTMAX×2"); `delegate_partitions`: delegated subgraphs.
- `fully_integer`: every tensor int8/uint8/int32 (the Edge TPU precondition).
- `int8_recipe`, `calibration` (its source), `int8_top1_agreement` and `int8_cosine`: int8 outputs
  against PyTorch's on held-out inputs of the calibration source.
- `interpreter` (TFLite: ai_edge_litert or tflite_runtime), `inference_precision` (OpenVINO, effective).
Delegation comes from the measuring runtime when the network was measured (that is what ran), else from
LiteRT at export time.
"""

from __future__ import annotations

import json
import math
from typing import Any

ARTIFACT_COLUMNS = [
    "convert_seconds",
    "quantize_seconds",
    "n_ops",
    "delegated_ops",
    "fallback_ops",
    "fallback_op_types",
    "delegate_partitions",
    "fully_integer",
    "int8_recipe",
    "calibration",
    "int8_top1_agreement",
    "int8_cosine",
    "interpreter",
    "inference_precision",
]


def _load(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def artifact_facts(export_info: Any, measure_info: Any) -> dict[str, Any]:
    """The ARTIFACT_COLUMNS values of one row from its two info_json texts."""
    export, measure = _load(export_info), _load(measure_info)
    delegation = measure.get("delegation") or export.get("delegation") or {}
    parity = export.get("parity") or {}
    calibration = export.get("calibration") or {}
    fallback = delegation.get("fallback")
    return {
        "convert_seconds": export.get("convert_seconds"),
        "quantize_seconds": export.get("quantize_seconds"),
        "n_ops": export.get("n_ops"),
        "delegated_ops": delegation.get("delegated"),
        "fallback_ops": sum(fallback.values()) if isinstance(fallback, dict) else None,
        "fallback_op_types": _counts(fallback) if isinstance(fallback, dict) else None,
        "delegate_partitions": delegation.get("partitions"),
        "fully_integer": export.get("fully_integer"),
        "int8_recipe": export.get("recipe"),
        "calibration": calibration.get("label") or parity.get("fidelity_source"),
        "int8_top1_agreement": parity.get("int8_top1_agreement"),
        "int8_cosine": parity.get("int8_cosine"),
        "interpreter": measure.get("interpreter"),
        "inference_precision": measure.get("inference_precision"),
    }


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{op}×{n}" for op, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def summary(row: Any) -> str:
    """A compact line for `hwbench show`: "XNNPACK 170/222 · fully int · int8 top1 0.84 cos 0.983"."""
    parts = []
    if _present(row.get("delegated_ops")) and _present(row.get("fallback_ops")):
        delegated = int(row["delegated_ops"])
        parts.append(f"XNNPACK {delegated}/{delegated + int(row['fallback_ops'])}")
    if row.get("fully_integer") is True:
        parts.append("fully int")
    if _present(row.get("int8_top1_agreement")):
        parts.append(f"int8 top1 {row['int8_top1_agreement']:.2f} cos {row['int8_cosine']:.3f}")
    if isinstance(row.get("inference_precision"), str):
        parts.append(row["inference_precision"])
    return " · ".join(parts)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))
