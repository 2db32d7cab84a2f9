"""Artifact facts for the results table, from hand-written export and measurement info records."""

import json
import math

from hwbench.analysis.artifact_info import ARTIFACT_COLUMNS, artifact_facts, summary

EXPORT = {
    "converter": "litert-torch + ai-edge-quantizer",
    "recipe": "full_int8",
    "convert_seconds": 7.5,
    "quantize_seconds": 0.8,
    "n_ops": 222,
    "fully_integer": True,
    "calibration": {"source": "synthetic", "seed": 0, "samples": 32, "label": "synthetic (standard-normal, seed 0)"},
    "delegation": {"ops": 222, "delegated": 222, "fallback": {}, "partitions": 1},
    "parity": {"parity_ok": None, "int8_top1_agreement": 0.84, "int8_cosine": 0.983},
}
MEASURE = {
    "interpreter": "ai_edge_litert",
    "delegation": {
        "ops": 222,
        "delegated": 170,
        "fallback": {"GELU": 4, "SOFTMAX": 4, "BATCH_MATMUL": 8},
        "partitions": 44,
    },
}


def test_facts_prefer_the_measuring_runtime() -> None:
    facts = artifact_facts(json.dumps(EXPORT), json.dumps(MEASURE))
    assert list(facts) == ARTIFACT_COLUMNS
    assert facts["delegated_ops"] == 170 and facts["fallback_ops"] == 16 and facts["delegate_partitions"] == 44
    assert facts["fallback_op_types"] == "BATCH_MATMUL×8, GELU×4, SOFTMAX×4"
    assert facts["fully_integer"] is True and facts["int8_recipe"] == "full_int8"
    assert facts["int8_top1_agreement"] == 0.84 and facts["int8_cosine"] == 0.983
    assert facts["convert_seconds"] == 7.5 and facts["quantize_seconds"] == 0.8
    assert facts["calibration"].startswith("synthetic") and facts["interpreter"] == "ai_edge_litert"
    assert summary(facts) == "XNNPACK 170/186 · fully int · int8 top1 0.84 cos 0.983"


def test_export_facts_when_not_measured_and_nothing_for_onnx() -> None:
    facts = artifact_facts(json.dumps(EXPORT), json.dumps({"traceback": "..."}))
    assert facts["delegated_ops"] == 222 and facts["fallback_ops"] == 0
    onnx = artifact_facts(json.dumps({"n_ops": 35, "parity": {"parity_ok": True}}), None)
    assert onnx["n_ops"] == 35 and all(onnx[k] is None for k in ARTIFACT_COLUMNS if k != "n_ops")
    assert summary(onnx) == ""
    assert summary({"inference_precision": "f32", "delegated_ops": math.nan}) == "f32"
    assert artifact_facts("not json", "") == dict.fromkeys(ARTIFACT_COLUMNS)
