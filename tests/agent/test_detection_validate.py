"""POST /v1/measure-detection bodies are checked field by field before anything runs: every refusal a JobError
(a 400 naming the field), never an exception that would become a 500."""

from __future__ import annotations

from typing import Any

import pytest

from hwbench.agent.validate import JobError, measure_job
from hwbench.agent.validate_det import detection_job
from hwbench.agent.wire import parse_artifact_name, parse_model_name

MODEL = "a" * 64 + ".onnx"
IMAGES = "b" * 64 + ".npy"


def body(**change: Any) -> dict[str, Any]:
    base = {
        "artifact": MODEL,
        "images": IMAGES,
        "runner": "onnxruntime",
        "threads": 1,
        "options": {},
        "nms": {"score_threshold": 0.05, "iou_threshold": 0.5, "placement": "host"},
        "count": 24,
        "max_seconds": 2.0,
        "seed": 3,
        "mean": [0.5, 0.4, 0.3],
        "std": [0.2, 0.2, 0.25],
        "queue_timeout_s": 60,
    }
    base.update(change)
    return {k: v for k, v in base.items() if v is not DROP}


DROP = object()


def test_a_good_job_is_normalised() -> None:
    job, artifact, images, queue = detection_job(body(), max_threads=2)
    assert (artifact, images, queue) == (MODEL, IMAGES, 60.0)
    assert job["kind"] == "detection" and job["runner"] == "onnxruntime" and job["runner_options"] == {}
    assert job["nms"]["pre_nms_top_k"] == 1000 and job["nms"]["placement"] == "host"  # defaults filled in
    assert job["count"] == 24 and job["max_seconds"] == 2.0 and job["seed"] == 3 and job["detect"] is True
    assert job["mean"] == [0.5, 0.4, 0.3] and all(isinstance(v, float) for v in job["std"])
    gray, *_ = detection_job(body(mean=[0.5], std=[0.2], seed=DROP, queue_timeout_s=DROP), max_threads=2)
    assert gray["seed"] == 0 and gray["mean"] == [0.5]
    assert "backbone" not in job  # optional: an older client never sends it


def test_a_backbone_is_named_like_the_detector_and_kept_as_its_name() -> None:
    """The server pins the named file, asks for it when missing and puts its cached path in the job."""
    backbone = "c" * 64 + ".onnx"
    job, artifact, *_ = detection_job(body(backbone=backbone), max_threads=2)
    assert job["backbone"] == backbone and artifact == MODEL


BAD: list[tuple[dict[str, Any], str]] = [
    ({"artifact": "../" + MODEL}, r"artifact: expected <sha256><ext>"),
    ({"artifact": "a" * 64 + ".pt2"}, r"artifact: expected"),
    ({"artifact": IMAGES}, r"artifact: expected <sha256><ext> with ext one of \.onnx, \.tflite"),
    ({"artifact": 5}, r"artifact: expected"),
    ({"images": MODEL}, r"images: expected <sha256>\.npy"),
    ({"images": "../../" + IMAGES}, r"images: expected"),
    ({"images": "B" * 64 + ".npy"}, r"images: expected"),
    ({"images": "b" * 64 + ".npz"}, r"images: expected"),
    ({"images": "b" * 64 + ".npy\n"}, r"images: expected"),
    ({"images": ["x"]}, r"images: expected"),
    ({"images": DROP}, r"images: expected"),
    ({"runner": "tflite"}, r"runner 'tflite' runs tflite artifacts, not \.onnx"),
    ({"runner": "nope"}, r"runner: .*nope"),
    ({"runner": "x" * 10_000}, r"runner: expected a runner's name"),
    ({"threads": 64}, r"threads: 64 is more than this agent allows \(2"),
    ({"threads": 0}, r"threads: expected a int in \[1, 2\], got 0"),
    ({"threads": True}, r"threads: expected"),
    ({"threads": 10**400}, r"threads: expected .* got a number that large"),
    ({"options": {"nope": 1}}, r"options\.nope: unknown option"),
    ({"options": {"io_binding": [1]}}, r"options\.io_binding: expected a number"),
    ({"options": []}, r"options: expected an object"),
    ({"nms": None}, r"nms: expected an object"),
    ({"nms": [0.5]}, r"nms: expected an object"),
    ({"nms": {"iou_threshold": 1.5}}, r"nms\.iou_threshold: must be a number in \[0, 1\]"),
    ({"nms": {"score_threshold": float("nan")}}, r"nms\.score_threshold"),
    ({"nms": {"score_threshold": "0.5"}}, r"nms\.score_threshold"),
    ({"nms": {"pre_nms_top_k": -1}}, r"nms\.pre_nms_top_k: must be an integer >= 1"),
    ({"nms": {"pre_nms_top_k": 2.0}}, r"nms\.pre_nms_top_k"),
    ({"nms": {"max_detections": 10**30}}, r"nms\.max_detections: at most 1,000,000"),
    ({"nms": {"placement": "gpu"}}, r"nms\.placement: unknown placement 'gpu'"),
    ({"nms": {"placement": ["host"]}}, r"nms\.placement: unknown placement"),
    ({"nms": {"top_k": 5}}, r"nms\.top_k: unknown setting"),
    ({"count": 0}, r"count: expected a int in \[1, 10000\]"),
    ({"count": 10**9}, r"count: expected"),
    ({"count": 2.5}, r"count: expected"),
    ({"count": "24"}, r"count: expected"),
    ({"count": DROP}, r"count: expected"),
    ({"max_seconds": -1}, r"max_seconds: expected a float in \[0, 3600"),
    ({"max_seconds": float("inf")}, r"max_seconds: expected"),
    ({"seed": -1}, r"seed: expected"),
    ({"seed": 2**64}, r"seed: expected"),
    ({"queue_timeout_s": 1e12}, r"queue_timeout_s: expected"),
    ({"mean": [0.5, 0.5]}, r"mean: expected a list of 1 or 3 numbers"),
    ({"mean": "0.5"}, r"mean: expected a list"),
    ({"mean": [0.5, 0.5, [0.5]]}, r"mean: expected a float in \[0.0, 1.0\]"),
    ({"mean": [0.5, 2.0, 0.5]}, r"mean: expected a float in \[0.0, 1.0\], got 2.0"),
    ({"std": [0.2, 0.0, 0.2]}, r"std: expected a float in \[1e-06, 1.0\], got 0.0"),
    ({"std": [0.2, float("nan"), 0.2]}, r"std: expected"),
    ({"std": [0.2]}, r"mean and std differ in length \(3 vs 1\)"),
    ({"detect": "yes"}, r"detect: expected true or false"),
    ({"protocol": {}}, r"unknown field 'protocol'"),
    ({"path": "/etc/passwd"}, r"unknown field 'path'"),
    ({"kind": "measure"}, r"unknown field 'kind'"),
    ({"backbone": IMAGES}, r"backbone: expected <sha256><ext> with ext one of \.onnx, \.tflite"),
    ({"backbone": "../" + MODEL}, r"backbone: expected"),
    ({"backbone": "/tmp/" + MODEL}, r"backbone: expected"),
    ({"backbone": "C" * 64 + ".onnx"}, r"backbone: expected"),
    ({"backbone": "c" * 63 + ".onnx"}, r"backbone: expected"),
    ({"backbone": "c" * 64 + ".pt2"}, r"backbone: expected"),
    ({"backbone": "c" * 64 + ".onnx" + "x" * 100_000}, r"backbone: expected"),
    ({"backbone": "c" * 64 + ".tflite"}, r"backbone: runner 'onnxruntime' runs onnx artifacts, not \.tflite"),
    ({"backbone": None}, r"backbone: expected"),
    ({"backbone": ["c" * 64 + ".onnx"]}, r"backbone: expected"),
    ({"backbone": {"path": "/etc/passwd"}}, r"backbone: expected"),
    ({"backbone_error": "x"}, r"unknown field 'backbone_error'"),  # said by the host, never sent
]


@pytest.mark.parametrize(("change", "match"), BAD)
def test_hostile_fields_are_job_errors(change: dict[str, Any], match: str) -> None:
    with pytest.raises(JobError, match=match):
        detection_job(body(**change), max_threads=2)


def test_an_images_file_is_uploadable_but_never_measurable() -> None:
    assert parse_artifact_name(IMAGES) == ("b" * 64, ".npy")  # the upload route and the cache take it
    assert parse_model_name(IMAGES) is None
    job = {"artifact": IMAGES, "runner": "onnxruntime", "threads": 1, "protocol": {}}
    with pytest.raises(JobError, match=r"artifact: expected <sha256><ext> with ext one of \.onnx, \.tflite"):
        measure_job(job, max_threads=1)
