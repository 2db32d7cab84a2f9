"""The Ray executor against the local worker pool, on a Ray cluster started on this machine (loopback only).

(a) Per-job overhead: N no-op jobs through one local worker process vs one Ray actor (1-CPU node): the median
    round trip between consecutive results, and the batch's total wall time (worker start included).
(b) The export and train stages of one sweep (`run_sweep(SweepRequest(..., stage="export"))`, then
    `stage="train"`: 20 MBConv networks, one ONNX target, the built-in digits dataset on the `demo` schedule cut
    to 2 epochs, so 20 real export jobs and 20 trainings) into a fresh store, with the local pool (2 workers) vs Ray
    (2 nodes x 1 CPU): wall-time ratio of the two stages, goal Ray/local <= 1/0.95.
(c) Those stages on Ray with 2 nodes x 1 CPU vs 1 node x 1 CPU: speedup, goal >= 1.8.
Each run starts from fresh workers (a new executor) and a fresh store and artifact folder. Ray runs inside a
loopback-only network namespace (needs root), as the tests do. `--quick`: 20 no-ops and 4 exports, a smoke check
saved as ray_executor_quick (never the result).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import ROOT, save, table

N_NOOP, N_EXPORT = 200, 20
EPOCHS = 2
GOAL_RATIO, GOAL_SPEEDUP = 1 / 0.95, 1.8


def export_and_train(n: int, executor: str, address: str | None = None) -> dict[str, Any]:
    """Wall times of the export and train stages of an n-network sweep into a fresh store; checks that all worked."""
    from hwbench.pipeline import SweepRequest, run_sweep
    from hwbench.store import Store

    folder = Path(tempfile.mkdtemp(prefix="hwbench-ray-bench-"))
    request = SweepRequest(
        name="ray-bench",
        spaces=[ROOT / "design_spaces" / "mbconv.yaml"],
        targets=[ROOT / "targets" / "cpu-onnxruntime-1t.yaml"],
        n=n,
        store=folder / "hwbench.sqlite",
        workers=2,
        report=False,
        stage="export",
        executor=executor,
        ray_address=address,
        dataset="digits",
        schedule=_short_demo(folder),
        train_workers=2,
    )
    start = time.perf_counter()
    counts = run_sweep(request)
    export_wall = time.perf_counter() - start
    trained = run_sweep(replace(request, stage="train", spaces=[], targets=[]))
    wall = time.perf_counter() - start
    store = Store(request.store)
    try:
        rows = store.query(
            "SELECT e.status, e.export_seconds, json_extract(p.json, '$.executor.node_id') AS node "
            "FROM exports e LEFT JOIN provenance p USING (prov_id)"
        )
        accuracies = store.query("SELECT status FROM accuracies")
    finally:
        store.close()
    if counts.get("exports") != n or [r["status"] for r in rows] != ["ok"] * n:
        raise RuntimeError(f"{executor}: counts {counts}, export statuses {[r['status'] for r in rows]}")
    if trained.get("trained") != n or [r["status"] for r in accuracies] != ["ok"] * n:
        raise RuntimeError(f"{executor}: counts {trained}, training statuses {[r['status'] for r in accuracies]}")
    # The exports' own seconds (summed) and the nodes they ran on tell the fixed costs (sampling, worker start)
    # from the part that parallelises.
    nodes = len({r["node"] for r in rows if r["node"]})
    return {
        "wall_s": wall,
        "export_wall_s": export_wall,
        "train_wall_s": wall - export_wall,
        "median_gap_ms": None,
        "export_s_sum": sum(r["export_seconds"] for r in rows),
        "nodes": nodes,
    }


def _short_demo(folder: Path) -> Path:
    """The `demo` schedule cut to EPOCHS epochs: the trainings stay seconds long (what is compared is the
    executors' cost around them), and the benchmark stays minutes long."""
    import re

    text = (ROOT / "hwbench" / "accuracy" / "schedules" / "demo.yaml").read_text()
    path = folder / "bench.yaml"
    path.write_text(re.sub(r"(?m)^epochs: \d+", f"epochs: {EPOCHS}", text).replace("name: demo", "name: bench"))
    return path


def timed(executor: Any, batch: Any, jobs: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Run a batch; its wall time, the gaps between consecutive results; checks that every job succeeded."""
    start = time.perf_counter()
    stamps, failed = [], []
    try:
        for tag, result in executor.run(batch, jobs):
            stamps.append(time.perf_counter())
            if result["status"] != "ok":
                failed.append(f"{tag}: {result.get('error')}")
    finally:
        executor.close()
    if failed or len(stamps) != len(jobs):
        raise RuntimeError(f"{len(stamps)} of {len(jobs)} results; failed: {failed[:3]}")
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return {"wall_s": stamps[-1] - start, "median_gap_ms": 1000 * statistics.median(gaps) if gaps else None}


def main() -> None:
    """Run (a), (b), (c); print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 no-ops and 4 exports: checks that it works")
    args = parser.parse_args()
    n_noop, n_export = (20, 4) if args.quick else (N_NOOP, N_EXPORT)

    # Ray workers import the jobs as cluster nodes import hwbench: from their own path.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    os.environ.pop("RAY_ADDRESS", None)
    from ray.cluster_utils import Cluster

    from hwbench.pipeline.executor import Batch, LocalExecutor
    from hwbench.pipeline.ray_executor import RayExecutor
    from tests.pipeline import ray_jobs

    noop = Batch("noop", ray_jobs.noop, workers=1, timeout=60, threads=1)
    noops = [(i, {}) for i in range(n_noop)]
    runs: dict[str, dict[str, Any]] = {}
    with ray_jobs.loopback_namespace():
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        try:
            runs["noop_ray_1actor"] = timed(RayExecutor(cluster.address), noop, noops)
            runs["stages_ray_1node"] = export_and_train(n_export, "ray", cluster.address)
            cluster.add_node(num_cpus=1)
            runs["stages_ray_2nodes"] = export_and_train(n_export, "ray", cluster.address)
        finally:
            cluster.shutdown()
    runs["noop_local_1worker"] = timed(LocalExecutor(), noop, noops)
    runs["stages_local_2workers"] = export_and_train(n_export, "local")

    ratio = runs["stages_ray_2nodes"]["wall_s"] / runs["stages_local_2workers"]["wall_s"]
    speedup = runs["stages_ray_1node"]["wall_s"] / runs["stages_ray_2nodes"]["wall_s"]
    noop_ratio = runs["noop_ray_1actor"]["median_gap_ms"] / runs["noop_local_1worker"]["median_gap_ms"]
    data = {
        "quick": args.quick,
        "jobs": {"noop": n_noop, "export": n_export},
        "runs": runs,
        "noop_gap_ratio_ray_over_local": noop_ratio,
        "export_ratio_ray_over_local": ratio,
        "export_ratio_goal": GOAL_RATIO,
        "export_ratio_met": ratio <= GOAL_RATIO,
        "speedup_2nodes_over_1": speedup,
        "speedup_goal": GOAL_SPEEDUP,
        "speedup_met": speedup >= GOAL_SPEEDUP,
    }
    rows = [{"run": name, **figures} for name, figures in runs.items()]
    columns = ["run", "wall_s", "export_wall_s", "train_wall_s", "median_gap_ms", "export_s_sum", "nodes"]
    text = table(rows, columns) + (
        f"\n\n(a) no-op round trip Ray/local: {noop_ratio:.2f}x"
        f"\n(b) {n_export} exports + trainings, Ray 2x1 CPU / local 2 workers: {ratio:.3f} (goal <= {GOAL_RATIO:.3f}: "
        f"{'met' if data['export_ratio_met'] else 'missed'})"
        f"\n(c) Ray 2 nodes / 1 node speedup: {speedup:.2f}x (goal >= {GOAL_SPEEDUP}: "
        f"{'met' if data['speedup_met'] else 'missed'})"
    )
    save("ray_executor_quick" if args.quick else "ray_executor", text, data)


if __name__ == "__main__":
    main()
