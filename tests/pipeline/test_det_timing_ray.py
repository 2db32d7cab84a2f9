"""Detection timing on a Ray node: a `ray-node` target's trained detector is timed in parts on the node that
declares its resource (the images file and the artifact come from the shared artifact folder), keyed by that node,
with the artifact's own mAP; a re-run finds it again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hwbench.pipeline.run import run_sweep
from tests.conftest import write_target
from tests.pipeline import ray_jobs
from tests.pipeline.test_det_sweep import request, rows

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NODE = "measure:det"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with ray_jobs.local_cluster(ROOT, {NODE: 1}) as cluster:
        yield cluster


def test_a_ray_node_target_times_detectors_on_its_node(cluster: Any, tmp_path: Path) -> None:
    extra = f"transport: ray-node\nray_resource: '{NODE}'\n"
    target = write_target(tmp_path / "targets", "t-node", "onnxruntime", "{format: onnx}", extra=extra)
    req = request(tmp_path, [target], n=1, stage="train", executor="ray", ray_address=cluster.address)
    counts = run_sweep(req)
    assert counts["trained"] == 1 and counts["detection_timings"] == 1
    [timing] = rows(req.store, "SELECT d.*, p.json AS prov FROM detection_timings d JOIN provenance p USING (prov_id)")
    assert timing["status"] == "ok", timing["error"]
    assert timing["images"] == 24 and timing["nms_ms"] > 0 and timing["artifact_images"] == 32
    [trained] = rows(req.store, "SELECT map FROM accuracies")
    assert timing["artifact_map"] == pytest.approx(trained["map"], abs=0.01)
    assert timing["artifact_map_ci_low"] <= timing["artifact_map"] <= timing["artifact_map_ci_high"]
    prov = json.loads(timing["prov"])
    # Timed on the node that declares the resource, holding all of its CPUs, keyed by that node.
    assert prov["ray_node"]["node_id"] == cluster.worker.node_id and prov["ray_node"]["cpus"] == 1.0
    assert prov["executor"]["node_id"] == cluster.worker.node_id
    assert prov["target"]["ray_resource"] == NODE and prov["target"]["transport"] == "ray-node"
    assert run_sweep(req)["detection_timings"] == 0  # its key names the node's machine, found again
