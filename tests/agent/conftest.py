"""Real agent processes for tests: started with `python -m hwbench.agent` on loopback, a token file and a cache.

HWBENCH_AGENT_PYTHON picks the interpreter the agent runs with (e.g. a venv with numpy<2 and onnxruntime only).
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

AGENT_PYTHON = os.environ.get("HWBENCH_AGENT_PYTHON", sys.executable)
TOKEN = "test-token-0123456789abcdefghij"
FAST = {
    "warmup_runs": 2,
    "warmup_seconds": 0.0,
    "min_runs": 5,
    "min_seconds": 0.0,
    "max_runs": 40,
    "max_seconds": 1.0,
    "rel_ci": 0.05,
}


class Agent:
    """One agent process; `restart()` brings it back on the same port with the same cache."""

    def __init__(
        self,
        root: Path,
        args: tuple[str, ...] = (),
        netns: str | None = None,
        host: str = "127.0.0.1",
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ):
        self.root = root
        self.env = env or {}
        self.cwd = cwd
        root.mkdir(parents=True, exist_ok=True)
        self.args = args
        self.netns = netns
        self.host = host
        self.port = 0
        self.cache = root / "cache"
        self.token_file = root / "token"
        self.token_file.write_text(TOKEN + "\n")
        self.token_file.chmod(0o600)
        self.proc: subprocess.Popen | None = None
        self.logs: list[Path] = []

    def start(self) -> Agent:
        log = self.root / f"agent{len(self.logs)}.log"
        self.logs.append(log)
        cmd = [AGENT_PYTHON, "-m", "hwbench.agent", "--host", self.host, "--port", str(self.port)]
        cmd += ["--token-file", str(self.token_file), "--cache-dir", str(self.cache), "--request-timeout", "2"]
        cmd += list(self.args)
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        with open(log, "w") as err:
            self.proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=self.cwd, start_new_session=True
            )
        end = time.time() + 60
        while time.time() < end:
            found = re.search(r"listening on [^ ]+:(\d+)", log.read_text())
            if found:
                self.port = int(found.group(1))
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited: {log.read_text()}")
            time.sleep(0.05)
        raise AssertionError("agent did not start")

    def memory_mb(self) -> dict[str, float]:
        """The agent process's resident memory now (VmRSS) and at its peak so far (VmHWM), in MB."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()  # type: ignore[union-attr]
        return {k: int(re.search(rf"{k}:\s+(\d+)", status).group(1)) / 1024 for k in ("VmRSS", "VmHWM")}

    def kill(self) -> None:
        """SIGKILL the agent (its measurement process dies with it)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def restart(self) -> Agent:
        self.kill()
        return self.start()

    def log(self) -> str:
        return "".join(p.read_text() for p in self.logs)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, **kwargs):
        from hwbench.agent.client import AgentClient

        return AgentClient(self.host, self.port, TOKEN, **{"retries": 0, **kwargs})


@pytest.fixture
def agent(tmp_path: Path):
    """A fresh agent on a random loopback port."""
    a = Agent(tmp_path / "agent", ("--max-upload-mb", "1"))
    a.start()
    yield a
    a.kill()


def tiny_onnx(path: Path, width: int = 32, seed: int = 0) -> tuple[Path, str]:
    """A small MatMul+Relu ONNX model (no torch needed); returns (path, sha256)."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(seed).standard_normal((width, width)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, width])],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def job(protocol: dict | None = None) -> dict:
    """A measurement job for the tiny model on onnxruntime."""
    return {"runner": "onnxruntime", "threads": 1, "options": {}, "protocol": {**FAST, **(protocol or {})}, "seed": 0}
