"""The Ray executor and board leases on a real two-node Ray cluster (head + worker with board:tiny), started once
for the module inside a loopback-only network namespace (skipped where one cannot be made)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hwbench.pipeline.executor import Batch, LocalExecutor, Resources
from tests.pipeline import ray_jobs

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ANY_NODE = Resources()  # one CPU each: one actor per node
ONE_ACTOR = Resources(cpus=1, custom={"board:tiny": 1})  # the worker node's single board unit: one actor, in order


@dataclass
class RayEnv:
    cluster: Any
    executor: Any
    worker: Any  # the worker node, which declares board:tiny


@pytest.fixture(scope="module")
def ray_env() -> Iterator[RayEnv]:
    """One cluster for the module: head (1 CPU) + worker (1 CPU, board:tiny), one RayExecutor connected to it."""
    from hwbench.pipeline.ray_executor import RayExecutor

    with ray_jobs.local_cluster(ROOT, {"board:tiny": 1}) as cluster:
        executor = RayExecutor(cluster.address)
        try:
            yield RayEnv(cluster, executor, cluster.worker)
        finally:
            executor.close()


def batch(timeout: Any = 30.0, resources: Resources = ANY_NODE, followups: Any = None) -> Batch:
    return Batch("test", ray_jobs.run, workers=2, timeout=timeout, threads=3, resources=resources, followups=followups)


def by_tag(results: list[tuple[Any, dict]]) -> dict[Any, dict]:
    tags = [tag for tag, _ in results]
    assert sorted(tags) == sorted(set(tags)), f"a job came back twice: {tags}"
    return dict(results)


def wait_gone(pid: int, within: float = 15.0) -> bool:
    """Whether the process ends (or is a zombie) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.1)
    return False


def test_jobs_run_on_both_nodes_and_each_comes_back_once(ray_env: RayEnv, tmp_path: Path) -> None:
    jobs = [(i, {"value": i, "sleep": 0.4, "pid": True}) for i in range(8)]
    jobs += [(100, {"value": 100, "do": "write", "artifact_dir": str(tmp_path)})]
    results = by_tag(list(ray_env.executor.run(batch(), jobs)))
    assert sorted(results) == [*range(8), 100]
    assert all(r["status"] == "ok" and r["double"] == 2 * r["value"] for r in results.values())
    assert {r["threads"] for t, r in results.items() if t != 100} == {"3"}
    nodes = {r["executor"]["node_id"] for r in results.values()}
    assert nodes == {n["node_id"] for n in ray_env.executor.describe()["nodes"]} and len(nodes) == 2
    assert all(r["executor"]["host"] for r in results.values())
    assert (tmp_path / "100.txt").read_text() == "artifact 100\n"  # written by the worker, into the shared folder


def test_describe_names_the_cluster(ray_env: RayEnv) -> None:
    info = ray_env.executor.describe()
    assert info["executor"] == "ray" and info["address"] == ray_env.cluster.address
    assert len(info["nodes"]) == 2 and all(n["host"] for n in info["nodes"])
    assert (info["cpus"], info["gpus"]) == (2.0, 0.0)


def test_a_hang_is_killed_at_its_timeout_and_the_others_finish(ray_env: RayEnv, tmp_path: Path) -> None:
    jobs = [(0, {"value": 0, "do": "hang", "mark": True, "artifact_dir": str(tmp_path)})]
    jobs += [(i, {"value": i, "sleep": 0.2}) for i in range(1, 5)]
    start = time.monotonic()
    results = by_tag(list(ray_env.executor.run(batch(timeout=lambda job: 2.0 if job.get("do") else 30.0), jobs)))
    assert time.monotonic() - start < 20
    assert results[0]["status"] == "error"
    assert results[0]["error"] == "timed out after 2 s (Ray worker killed)"
    assert results[0]["executor"]["node_id"]
    assert all(results[i]["status"] == "ok" for i in range(1, 5))
    pid = int((tmp_path / "started-0").read_text().split()[0])
    assert wait_gone(pid), "the timed-out worker still runs"


def test_a_raising_job_is_an_error_result_and_its_worker_goes_on(ray_env: RayEnv) -> None:
    jobs = [(0, {"value": 0, "do": "raise"}), (1, {"value": 1, "pid": True}), (2, {"value": 2, "pid": True})]
    results = by_tag(list(ray_env.executor.run(batch(resources=ONE_ACTOR), jobs)))
    error = results[0]
    assert error["status"] == "error" and error["error"].startswith("ValueError: bad value 0 in pid ")
    assert "Traceback" in error["traceback"] and "ValueError" in error["traceback"]
    pid = int(error["error"].rsplit(" ", 1)[1])
    assert results[1]["pid"] == results[2]["pid"] == pid  # the same actor ran the jobs after the error


def test_followups_run_next_after_the_caller_handled_the_result(ray_env: RayEnv) -> None:
    handled: list[int] = []

    def followups(tag: int, result: dict) -> list[tuple[int, dict]]:
        assert handled[-1] == tag  # called after the caller's loop body ran for this result
        return [(10 * tag + k, {"value": 10 * tag + k}) for k in (1, 2)] if tag in (1, 2) else []

    jobs = [(i, {"value": i}) for i in (1, 2, 3)]
    for tag, result in ray_env.executor.run(batch(resources=ONE_ACTOR, followups=followups), jobs):
        assert result["status"] == "ok"
        handled.append(tag)
    assert handled == [1, 11, 12, 2, 21, 22, 3]


def test_a_worker_lost_three_times_is_an_error_and_the_rest_run(ray_env: RayEnv) -> None:
    jobs = [(0, {"value": 0, "do": "crash"}), (1, {"value": 1}), (2, {"value": 2})]
    results = by_tag(list(ray_env.executor.run(batch(), jobs)))
    assert results[0]["status"] == "error" and results[0]["error"].startswith("worker lost 3 times (node died?)")
    assert results[1]["status"] == results[2]["status"] == "ok"


def test_closing_the_generator_kills_the_running_jobs(ray_env: RayEnv, tmp_path: Path) -> None:
    list(ray_env.executor.run(batch(), [(i, {"value": i, "sleep": 0.5}) for i in range(2)]))  # both actors warm
    jobs = [
        (0, {"value": 0, "sleep": 2.0}),
        (1, {"value": 1, "do": "hang", "mark": True, "artifact_dir": str(tmp_path)}),
    ]
    running = ray_env.executor.run(batch(), jobs)
    assert next(running)[0] == 0
    marker = tmp_path / "started-1"
    assert marker.exists(), "the hanging job had not started on the second worker"
    running.close()
    assert wait_gone(int(marker.read_text().split()[0])), "a job of a closed batch still runs"


def test_local_and_ray_executors_give_the_same_results(ray_env: RayEnv) -> None:
    jobs = [(i, {"value": i, "sleep": 0.05 * (i % 3)}) for i in range(6)]
    local = by_tag(list(LocalExecutor().run(batch(), jobs)))
    remote = by_tag(list(ray_env.executor.run(batch(), jobs)))
    assert {t: {k: v for k, v in r.items() if k != "executor"} for t, r in remote.items()} == local


def test_board_leases_never_overlap(ray_env: RayEnv) -> None:
    from hwbench.pipeline.board_lease import board_lease

    spans: list[tuple[float, float, str | None]] = []

    def hold() -> None:
        with board_lease("tiny", ray_env.executor) as note:
            start = time.monotonic()
            time.sleep(1.0)
            spans.append((start, time.monotonic(), note))

    threads = [threading.Thread(target=hold) for _ in range(2)]
    begun = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    (_, a_end, a_note), (b_start, _, b_note) = sorted(spans)
    assert a_note and b_note and "board:tiny" in a_note
    assert b_start >= a_end  # the second waited for the first to release the board
    assert b_start - begun >= 1.0


def test_an_undeclared_board_or_a_local_executor_leases_nothing(ray_env: RayEnv) -> None:
    from hwbench.pipeline.board_lease import board_lease

    start = time.monotonic()
    with board_lease("no-such-board", ray_env.executor) as note:
        assert note is None
    with board_lease("tiny", LocalExecutor()) as note:
        assert note is None
    assert time.monotonic() - start < 2.0


def test_a_node_removed_mid_batch_loses_no_job(ray_env: RayEnv, tmp_path: Path) -> None:
    lost = ray_env.worker.node_id
    removed = threading.Event()

    def remove_worker_once_it_runs_a_job() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(lost in p.read_text() for p in tmp_path.glob("started-*")):
                ray_env.cluster.remove_node(ray_env.worker)
                removed.set()
                return
            time.sleep(0.05)

    killer = threading.Thread(target=remove_worker_once_it_runs_a_job)
    killer.start()
    jobs = [(i, {"value": i, "sleep": 1.0, "mark": True, "artifact_dir": str(tmp_path)}) for i in range(4)]
    try:
        results = by_tag(list(ray_env.executor.run(batch(), jobs)))
    finally:
        killer.join(timeout=60)
        # A replacement for later tests (Ray starts nodes from the main thread only).
        ray_env.worker = ray_env.cluster.add_node(num_cpus=1, resources={"board:tiny": 1})
    assert removed.is_set(), "no job ever started on the worker node"
    assert sorted(results) == [0, 1, 2, 3] and all(r["status"] == "ok" for r in results.values())
    assert all(r["executor"]["node_id"] != lost for r in results.values())
    assert not any(lost in p.read_text() for p in tmp_path.glob("started-*"))  # re-run elsewhere: markers rewritten


def test_the_local_path_never_imports_ray() -> None:
    code = (
        "import sys\n"
        "from hwbench.pipeline.executor import Batch\nfrom hwbench.pipeline.executors import make_executor\n"
        "from tests.pipeline import ray_jobs\n"
        "ex = make_executor('local')\n"
        "out = list(ex.run(Batch('export', ray_jobs.run, workers=1, timeout=60), [(0, {'value': 4})]))\n"
        "ex.close()\n"
        "assert out == [(0, {'status': 'ok', 'value': 4, 'double': 8})], out\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_an_address_where_no_ray_head_listens_is_a_clear_error() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = (
        "from hwbench.errors import HwbenchError\n"
        "from hwbench.pipeline.ray_executor import RayExecutor\n"
        "try:\n"
        f"    RayExecutor('127.0.0.1:{port}')\n"
        "except HwbenchError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith(f"--ray-address / RAY_ADDRESS '127.0.0.1:{port}': no Ray head answers there"), (
        done.stdout + done.stderr
    )


def test_without_an_address_a_fresh_local_ray_is_started_and_stopped(ray_env: RayEnv) -> None:
    # In a fresh process inside this module's namespace: the module's own connection must not be reused.
    code = (
        "import ray\n"
        "from hwbench.pipeline.executor import Batch\nfrom hwbench.pipeline.executors import make_executor\n"
        "from tests.pipeline import ray_jobs\n"
        "ex = make_executor('ray')\n"
        "out = list(ex.run(Batch('export', ray_jobs.run, workers=1, timeout=60), [(0, {'value': 4})]))\n"
        "print(ex.describe()['address'], out[0][1]['double'])\n"
        "ex.close()\n"
        "print(ray.is_initialized())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    address, double, connected = done.stdout.split()
    assert address != ray_env.cluster.address and double == "8" and connected == "False"
