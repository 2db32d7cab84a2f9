"""A sweep through a real two-node Ray cluster: the same records as the local sweep; a node lost mid-sweep."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hwbench.pipeline import SweepRequest, run_sweep
from hwbench.store import Store
from tests.conftest import write_target
from tests.pipeline import ray_jobs
from tests.pipeline.test_stages import records

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NODE = "measure:w"  # the worker node's resource: a `transport: ray-node` target is measured there
NODE_TARGET = f"transport: ray-node\nray_resource: '{NODE}'\n"
SCHEDULE = "epochs: 1\nbatch_size: 32\nresolution: 16\ntrain_images: 256\n"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with ray_jobs.local_cluster(ROOT, {NODE: 1}) as cluster:
        yield cluster


def request(root: Path, **kw: Any) -> SweepRequest:
    return SweepRequest(name="t", n=2, seed=0, store=root / "results" / "s.sqlite", report=False, **kw)


def test_a_sweep_through_ray_stores_what_the_local_sweep_stores(
    cluster: Any, tmp_path: Path, tiny_spaces: dict, fast_targets: dict
) -> None:
    (tmp_path / "sched.yaml").write_text(SCHEDULE)
    inputs = {
        "spaces": [tiny_spaces["mbconv"], tiny_spaces["convnext"]],
        "targets": [fast_targets["ort"]],
        "dataset": "digits",
        "schedule": tmp_path / "sched.yaml",
    }
    on_ray = run_sweep(request(tmp_path / "ray", executor="ray", ray_address=cluster.address, **inputs))
    local = run_sweep(request(tmp_path / "local", executor="local", **inputs))
    assert on_ray == local == {"archs": 4, "exports": 4, "measurements": 4, "trained": 4, "artifact_evals": 0}
    assert records(tmp_path / "ray" / "results" / "s.sqlite") == records(tmp_path / "local" / "results" / "s.sqlite")

    # Exports and trainings ran on the cluster's nodes (both of them, the provenance says), measurements here.
    store = Store(tmp_path / "ray" / "results" / "s.sqlite", create=False)
    nodes = set()
    for table in ("exports", "accuracies"):
        for row in store.query(f"SELECT p.json FROM {table} t JOIN provenance p ON p.prov_id = t.prov_id"):
            nodes.add(json.loads(row[0])["executor"]["node_id"])
    assert len(nodes) == 2
    assert all(w["path"] for w in _weights(store))  # trained weights, written on a node, in the shared folder


def _weights(store: Store) -> list[dict[str, Any]]:
    rows = store.query("SELECT info_json FROM accuracies WHERE source='trained'")
    return [json.loads(r[0])["weights"] for r in rows]


@pytest.mark.extended  # the default suite: a node removed mid-batch loses no job (tests/pipeline/test_ray_executor.py)
def test_a_node_lost_mid_sweep_loses_nothing_and_a_rerun_finishes(
    cluster: Any, tmp_path: Path, tiny_spaces: dict, fast_targets: dict
) -> None:
    spaces = [tiny_spaces["mbconv"], tiny_spaces["convnext"], tiny_spaces["resnet_bottleneck"]]
    req = request(tmp_path, spaces=spaces, targets=[fast_targets["ort"]], executor="ray", ray_address=cluster.address)
    removed, done = threading.Event(), threading.Event()

    def remove_the_worker_once_exports_are_stored() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not done.is_set():
            try:
                store = Store(req.store, create=False)
                count = store.query("SELECT COUNT(*) FROM exports")[0][0]
                store.close()
            except Exception:  # the store is not there yet
                count = 0
            if count >= 1:
                cluster.remove_node(cluster.worker)
                removed.set()
                return
            time.sleep(0.05)

    killer = threading.Thread(target=remove_the_worker_once_exports_are_stored)
    killer.start()
    try:
        counts = run_sweep(req)
    finally:
        done.set()
        killer.join(timeout=60)
        cluster.worker = cluster.add_node(num_cpus=1, resources={NODE: 1})  # from the main thread only
    assert removed.is_set() and counts["exports"] == 6
    store = Store(req.store, create=False)
    exports = store.query(
        "SELECT e.export_key, e.status, e.error, p.json FROM exports e JOIN provenance p ON p.prov_id = e.prov_id"
    )
    # Every export is stored exactly once: ok (re-queued onto the head) or an error naming the lost worker.
    assert len(exports) == len({r[0] for r in exports}) == 6
    assert all(r[1] == "ok" or "worker lost" in (r[2] or "") for r in exports)
    # The export in flight on the lost node ran again on the head (a job takes seconds; the node went mid-job).
    requeued = [r for r in exports if json.loads(r[3]).get("executor", {}).get("requeued")]
    assert requeued or any("worker lost" in (r[2] or "") for r in exports)
    store.close()

    again = run_sweep(SweepRequest(**{**req.__dict__, "retry_errors": True}))
    assert again["archs"] == 6
    store = Store(req.store, create=False)
    statuses = store.query("SELECT COUNT(*), SUM(status='ok') FROM exports")[0]
    measured = store.query("SELECT COUNT(*) FROM runs WHERE sweep='t' AND measure_key IS NOT NULL")[0][0]
    assert tuple(statuses) == (6, 6) and measured == 6


def test_a_ray_node_target_is_measured_on_its_node_with_the_node_to_itself(
    cluster: Any, tmp_path: Path, tiny_spaces: dict
) -> None:
    target = write_target(tmp_path / "targets", "t-node", "onnxruntime", "{format: onnx, opset: 18}", extra=NODE_TARGET)
    req = request(
        tmp_path, spaces=[tiny_spaces["mbconv"]], targets=[target], executor="ray", ray_address=cluster.address
    )
    assert run_sweep(req)["measurements"] == 2
    store = Store(req.store, create=False)
    rows = store.query(
        "SELECT m.status, p.json FROM measurements m JOIN provenance p ON p.prov_id = m.prov_id WHERE m.target='t-node'"
    )
    assert [r[0] for r in rows] == ["ok", "ok"]
    for _, text in rows:
        prov = json.loads(text)
        # Measured on the node that declares the resource, holding all of its CPUs (1 here), keyed by that node.
        assert prov["ray_node"]["node_id"] == cluster.worker.node_id and prov["ray_node"]["cpus"] == 1.0
        assert prov["target"]["ray_resource"] == NODE and prov["target"]["transport"] == "ray-node"
    assert run_sweep(req)["measurements"] == 0  # resumed: its key names the node's machine, found again
