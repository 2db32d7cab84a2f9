"""min_runs below what a median interval needs is refused in target files (file and key named, exit 2 from the
CLI, nothing stored); the timing loop's own floor is tested in test_timing.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbench.config.target import load_target
from hwbench.errors import ConfigError
from hwbench.measure.timing import MIN_RUNS
from tests.conftest import run_cli

HEAD = "name: t\ndescription: d\nrunner: onnxruntime\nthreads: 1\nexport: {format: onnx}\n"


@pytest.mark.parametrize(
    ("measurement", "message"),
    [
        ("{min_runs: 5}", r"t\.yaml: measurement\.min_runs: Input should be greater than or equal to 6 \(got 5\)"),
        ("{min_runs: 2, max_runs: 3}", r"t\.yaml: measurement\.min_runs: .*greater than or equal to 6"),
        ("{min_runs: 6, confidence: 0.99}", r"t\.yaml: measurement: .*min_runs 6 is below 8, the fewest for a 99% CI"),
    ],
)
def test_too_few_runs_name_the_file_and_key(tmp_path: Path, measurement: str, message: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(HEAD + f"measurement: {measurement}\n")
    with pytest.raises(ConfigError, match=message):
        load_target(path)


def test_the_fewest_runs_that_give_an_interval_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(HEAD + "measurement: {min_runs: 6}\n")
    assert load_target(path).measurement.protocol().min_runs == MIN_RUNS == 6
    path.write_text(HEAD + "measurement: {min_runs: 8, confidence: 0.99}\n")
    assert load_target(path).measurement.min_runs == 8


def test_cli_refuses_it_in_one_line_before_the_store(tmp_path: Path, tiny_spaces: dict) -> None:
    target, store = tmp_path / "t.yaml", tmp_path / "s.sqlite"
    target.write_text(HEAD + "measurement: {min_runs: 3}\n")
    out = run_cli(
        "sweep", "--space", str(tiny_spaces["mbconv"]), "--target", str(target), "--store", str(store), cwd=tmp_path
    )
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "t.yaml: measurement.min_runs" in lines[0] and "(got 3)" in lines[0]
    assert not store.exists()
