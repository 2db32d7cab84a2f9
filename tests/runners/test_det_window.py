"""The detection timing job watches its timed window like a measurement: pinned to the measurement cores, the
target's canary before and after, foreign CPU on those cores; a planted disturbance is what the host judges."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import hwbench.runners
import hwbench.runners.detection as detection
from hwbench.measure.disturbance import CanaryBaseline
from hwbench.pipeline.det_records import judge
from hwbench.postprocess.nms import NmsSettings


class FakeSession:
    """A detector whose graph returns 4 boxes and 2 class scores per image, in numpy."""

    def inputs(self) -> list[Any]:
        return [SimpleNamespace(shape=(1, 3, 8, 8))]

    def outputs_call(self, inputs: list[np.ndarray]) -> Any:
        boxes = np.array([[[0, 0, 4, 4], [1, 1, 5, 5], [4, 4, 8, 8], [0, 4, 4, 8]]], dtype=np.float32)
        scores = np.array([[[0.9, 0.1], [0.8, 0.2], [0.1, 0.7], [0.3, 0.3]]], dtype=np.float32)
        return lambda: [boxes, scores]

    def close(self) -> None:
        pass


class FakeRunner:
    name = "fake"

    def options(self, **kw: Any) -> tuple:
        return tuple(sorted(kw.items()))

    def open(self, path: str, threads: int, options: Any) -> FakeSession:
        return FakeSession()


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(hwbench.runners, "get_runner", lambda name: FakeRunner())
    images = tmp_path / "images.npy"
    np.save(images, np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8))
    return {
        "artifact": "unused.onnx",
        "runner": "fake",  # no canary model for it: the numpy canary stands in, and the record says why
        "threads": 1,
        "nms": NmsSettings(score_threshold=0.25).key(),
        "images": str(images),
        "count": 3,
        "mean": [0.5] * 3,
        "std": [0.25] * 3,
        "max_seconds": 0.05,
    }


def test_the_timed_window_records_interference_and_the_canary(job: dict[str, Any]) -> None:
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    result = detection.measure_detection_job(job)
    assert result["status"] == "ok", result.get("error")
    canary = result["canary"]
    assert canary["kind"] == "numpy" and canary["before_ms"] > 0 and canary["after_ms"] > 0 and canary["fallback"]
    assert "foreign_share" in result["interference"] and "pinned" in result["interference"]
    assert result["detections"] and result["e2e_median_ms"] > 0  # the parts and the scoring still there
    if allowed is not None:
        assert os.sched_getaffinity(0) == allowed  # pinned for the job only
    judged = judge(CanaryBaseline(), result)
    assert judged["disturbed"] in (0, 1) and judged["canary_drift"] is not None


def test_a_planted_foreign_process_flags_the_record(job: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    busy = {"available": True, "foreign_share": 0.5, "steal_share": 0.0, "freq_drop": None, "throttle_events": 0}
    monkeypatch.setattr(detection, "delta", lambda before, after, cores: dict(busy))
    result = detection.measure_detection_job(job)
    assert result["status"] == "ok" and result["interference"]["foreign_share"] == 0.5
    judged = judge(CanaryBaseline(), result)
    assert judged["disturbed"] == 1 and "foreign CPU 50% of the measured cores" in judged["disturbed_reason"]
