"""Jobs for the executor tests and benchmark (importable by Ray workers), and the loopback-only network namespace
that every Ray test and benchmark runs in (Ray binds the machine's interface address otherwise: TOOLCHAIN.md)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

CLONE_NEWNET = 0x40000000


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Do what `job["do"]` says: echo (after `sleep` s), raise, hang, crash (the worker process exits), write."""
    do = job.get("do", "echo")
    folder = Path(job["artifact_dir"]) if job.get("artifact_dir") else None
    if folder is not None and job.get("mark"):
        # Tells a test which job started where, and which process runs it (to check it was killed).
        (folder / f"started-{job['value']}").write_text(f"{os.getpid()} {_node_id()}")
    if do == "raise":
        raise ValueError(f"bad value {job['value']} in pid {os.getpid()}")
    if do == "hang":
        time.sleep(3600)
    if do == "crash":
        os._exit(3)
    time.sleep(float(job.get("sleep", 0.0)))
    result: dict[str, Any] = {"status": "ok", "value": job["value"], "double": 2 * job["value"]}
    if do == "write":
        path = folder / f"{job['value']}.txt"
        path.write_text(f"artifact {job['value']}\n")
        result["path"] = str(path)
    if job.get("pid"):
        result["pid"] = os.getpid()
        result["threads"] = os.environ.get("OMP_NUM_THREADS")
    return result


def noop(job: dict[str, Any]) -> dict[str, Any]:
    """Nothing: the executor's own cost per job."""
    return {"status": "ok"}


def _node_id() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else "local"
    except ImportError:
        return "local"


@contextmanager
def loopback_namespace() -> Iterator[None]:
    """Run this thread, and every process and thread it starts meanwhile, in a new network namespace that has
    only loopback; return to the original namespace on exit. Raises PermissionError without CAP_SYS_ADMIN."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    original = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        if libc.unshare(CLONE_NEWNET) != 0:
            raise PermissionError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed (needs root)")
        try:
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True, timeout=30)
            yield
        finally:
            if libc.setns(original, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the original network namespace failed")
    finally:
        os.close(original)


@contextmanager
def local_cluster(root: Path, worker_resources: dict[str, float] | None = None) -> Iterator[Any]:
    """A real two-node Ray cluster on this machine (head and worker, 1 CPU each), in a loopback-only namespace,
    with workers importing `tests.*` like cluster nodes import hwbench. pytest.skip where no namespace can be made."""
    import pytest

    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    with ExitStack() as stack:
        try:
            stack.enter_context(loopback_namespace())
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"no loopback-only network namespace for Ray here: {exc}")
        env = stack.enter_context(pytest.MonkeyPatch.context())
        env.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        env.delenv("RAY_ADDRESS", raising=False)
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        stack.callback(cluster.shutdown)
        cluster.worker = cluster.add_node(num_cpus=1, resources=worker_resources or {})
        yield cluster
