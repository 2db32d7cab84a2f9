"""Stage jobs: frozen, typed, and their wire form is plain JSON without pipeline-only or unset fields."""

from __future__ import annotations

import dataclasses
import json

import pytest

from hwbench.pipeline.jobs import EvalJob, ExportJob, MeasureJob, MeasureKeys, TrainJob

EXPORT = ExportJob("{}", "a1", "onnx", "fp32", {"opset": 18}, {"format": "onnx"}, "/art", base_key="b1")
JOBS = [
    EXPORT,
    TrainJob("{}", {"epochs": 1}, {"files": {}}, "/w/a.pt", threads=2, device="cpu"),
    EvalJob("k", EXPORT.wire(), "onnxruntime", {}, {"files": {}}, {"source": "dataset"}, 0, False),
    MeasureJob("onnxruntime", "/art/x.onnx", 1, {}, {"max_runs": 5}, MeasureKeys("m", "e", "h", "a"), seed=3),
]


@pytest.mark.parametrize("job", JOBS, ids=lambda j: type(j).__name__)
def test_wire_form_is_json_and_leaves_pipeline_fields_out(job: object) -> None:
    wire = job.wire()  # type: ignore[attr-defined]
    assert json.loads(job.json()) == wire  # type: ignore[attr-defined]
    assert not set(wire) & set(type(job).PIPELINE_ONLY)
    assert None not in wire.values()
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.threads = 9  # type: ignore[attr-defined]


def test_measure_rounds_time_images_in_the_first_round_only() -> None:
    job = dataclasses.replace(JOBS[3], inputs_path="/art/i.npy", inputs_source="random")
    assert job.round_job({"max_runs": 3}, first_round=True)["inputs_path"] == "/art/i.npy"
    later = job.round_job({"max_runs": 3}, first_round=False)
    assert "inputs_path" not in later and later["protocol"] == {"max_runs": 3} and "keys" not in later


def test_a_derived_export_names_its_base() -> None:
    assert dataclasses.replace(EXPORT, precision="int8").describe() == "onnx fp32"
    assert EXPORT.describe() == "onnx"
