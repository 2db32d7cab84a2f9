"""The detection timing job on this machine: parts timed on the first `count` images, every image detected once;
with NMS in the graph the graph's outputs are the detections; a bad images file is a record, not a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hwbench.export.onnx_nms import append_nms
from hwbench.postprocess.nms import NmsSettings
from hwbench.postprocess.packed import unpack_detections
from hwbench.runners.detection import detection_timeout, measure_detection_job
from tests.agent.test_detection import IMAGES, detector, job  # noqa: F401 (the module's fixture)

pytestmark = pytest.mark.export


def test_graph_nms_detections_equal_host_nms_detections(detector: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    # A threshold that leaves every class far fewer candidates than pre_nms_top_k, where both placements agree.
    host = NmsSettings(score_threshold=0.27)
    graph = NmsSettings(score_threshold=0.27, placement="graph")
    in_graph = append_nms(detector["onnx"], tmp_path / "nms.onnx", graph)
    by_host = measure_detection_job(job(detector, nms=host.key()))
    by_graph = measure_detection_job(job(detector, artifact=str(in_graph), nms=graph.key()))
    assert by_host["status"] == by_graph["status"] == "ok", (by_host.get("error"), by_graph.get("error"))
    assert by_graph["detections_source"] == "graph outputs (NMS in the graph)" and by_graph["nms_ms"] is None
    found = [unpack_detections(r["detections"], IMAGES) for r in (by_host, by_graph)]
    assert sum(len(s) for _, s, _ in found[0]) > 0
    for (b1, s1, l1), (b2, s2, l2) in zip(*found, strict=True):
        o1, o2 = np.lexsort((l1, -s1)), np.lexsort((l2, -s2))
        np.testing.assert_allclose(s1[o1], s2[o2], rtol=1e-6)
        np.testing.assert_array_equal(l1[o1], l2[o2])
        np.testing.assert_allclose(b1[o1], b2[o2], rtol=1e-5, atol=1e-4)
    assert [len(s) for _, s, _ in found[1]][:4] == by_graph["kept"]


def test_count_beyond_the_file_times_every_image(detector: dict[str, Any]) -> None:  # noqa: F811
    result = measure_detection_job(job(detector, count=1000, max_seconds=0.05))
    assert result["status"] == "ok" and result["count"] == IMAGES
    assert detection_timeout(job(detector), IMAGES) > detection_timeout(job(detector), 1)


def test_a_bad_images_file_is_an_error_record(detector: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    bad = tmp_path / "x.npy"
    np.save(bad, np.zeros((2, 32, 32, 3), np.float64))
    result = measure_detection_job(job(detector, images=str(bad)))
    assert result["status"] == "error"
    assert result["error"].startswith("ImagesError: images file x.npy: expected uint8 N×H×W×C, got float64")
    wrong_size = tmp_path / "y.npy"
    np.save(wrong_size, np.zeros((2, 16, 16, 3), np.uint8))
    result = measure_detection_job(job(detector, images=str(wrong_size)))
    assert result["status"] == "error" and "per-image inputs are 3×16×16" in result["error"]
