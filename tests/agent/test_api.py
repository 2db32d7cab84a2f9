"""The Python API measures an agent target on its board, not silently on the workstation."""

from __future__ import annotations

from pathlib import Path

import pytest

import hwbench as hb
from tests.agent.conftest import Agent, tiny_onnx


@pytest.mark.remote
def test_measure_arch_goes_through_the_agent(agent: Agent, tmp_path: Path) -> None:
    model, _ = tiny_onnx(tmp_path / "m.onnx")
    target = tmp_path / "board.yaml"
    target.write_text(
        "runner: onnxruntime\nthreads: 1\nexport: {format: onnx}\n"
        "measurement: {warmup_runs: 2, warmup_seconds: 0, min_runs: 6, min_seconds: 0, max_runs: 30, max_seconds: 1}\n"
        f"transport: agent\nagent: {{host: 127.0.0.1, port: {agent.port}, token_file: {agent.token_file}}}\n"
    )
    result = hb.measure_arch(model, target)
    assert result["status"] == "ok" and result["queue_seconds"] is not None
    assert agent.log().count("measuring ") == 1
