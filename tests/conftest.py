"""Shared fixtures: tiny design spaces and targets written per test, so sweeps in tests take seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

TINY_MACRO = """\
family: cnn
description: tiny test macro
resolution: 32
num_classes: 10
stem: {width: 8, kernel: 3, stride: 2}
stages:
  count: 2
  depth: {uniform_int: [1, 2], per_stage: true}
  width: {choice: [8, 16, 24], per_stage: true, order: increasing}
  stride: [2, 2]
head: {width: 32}
constraints:
  macs: {min: 0, max: 5M}
  max_attempts: 200
"""

TINY_SPACE = """\
name: {name}
description: tiny {block} space for tests
macro: macros/tiny.yaml
block: {block}
"""

FAST_MEASUREMENT = """\
measurement: {warmup_runs: 2, warmup_seconds: 0.0, min_runs: 6, min_seconds: 0.0, max_runs: 40, max_seconds: 1.0,
  rel_ci: 0.05}
"""


@pytest.fixture(autouse=True)
def _flag_rather_than_remeasure(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the tests of re-measuring itself, a disturbed round is flagged, not re-measured after a wait for
    quiet: on a noisy 2-core machine those waits (10 s each, 30 s a target) would dominate the suite's time while
    testing nothing else (re-measuring: tests/pipeline/test_measure_rounds.py, test_rounds_driver.py)."""
    if request.module.__name__.endswith(("test_measure_rounds", "test_rounds_driver")):
        return
    monkeypatch.setattr("hwbench.pipeline.rounds.RETRY_BUDGET_S", 0.0)


@pytest.fixture
def tiny_spaces(tmp_path: Path) -> dict[str, Path]:
    """A tiny macro and one tiny space per CNN block, in tmp_path/design_spaces."""
    from hwbench.blocks import block_names

    base = tmp_path / "design_spaces"
    (base / "macros").mkdir(parents=True)
    (base / "macros" / "tiny.yaml").write_text(TINY_MACRO)
    spaces = {}
    for block in block_names("cnn"):
        path = base / f"tiny_{block}.yaml"
        path.write_text(TINY_SPACE.format(name=f"tiny_{block}", block=block))
        spaces[block] = path
    return spaces


def write_target(directory: Path, name: str, runner: str, export: str, threads: int = 1, extra: str = "") -> Path:
    """A fast target file (short measurement) for tests."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(
        f"name: {name}\ndescription: test target\nrunner: {runner}\nthreads: {threads}\nexport: {export}\n"
        + FAST_MEASUREMENT
        + extra
    )
    return path


@pytest.fixture
def fast_targets(tmp_path: Path) -> dict[str, Path]:
    """onnxruntime and torch targets with a short measurement protocol."""
    base = tmp_path / "targets"
    return {
        "ort": write_target(base, "t-ort", "onnxruntime", "{format: onnx, opset: 18}"),
        "torch": write_target(base, "t-torch", "torch", "{format: torch}"),
    }


def run_cli(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m hwbench ...` as a user would, from `cwd`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "hwbench", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
