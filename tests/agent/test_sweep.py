"""A real sweep against a real agent process: the agent is killed mid-measurement, the failure is recorded,
the sweep goes on with the next target, and after a restart a re-run completes what is missing, once."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.agent.conftest import TOKEN, Agent
from tests.conftest import ROOT, run_cli, write_target

SLOW = "measurement: {warmup_runs: 2, warmup_seconds: 0.0, min_runs: 6, min_seconds: 1.0, max_runs: 100000, max_seconds: 1.0}\n"


def agent_target(directory: Path, name: str, port: int, measurement: str = SLOW) -> Path:
    path = write_target(directory, name, "onnxruntime", "{format: onnx, opset: 18}")
    text = path.read_text().split("measurement:")[0] + measurement
    text += f"transport: agent\nagent: {{host: 127.0.0.1, port: {port}, token_env: HW_TEST_TOKEN, retries: 2, backoff_s: 0.2}}\n"
    path.write_text(text)
    return path


def sweep(tmp_path: Path, spaces: list[Path], targets: list[Path], token: str | None = TOKEN) -> subprocess.Popen:
    args = ["sweep", "--name", "b", "--n", "2", "--store", str(tmp_path / "s.sqlite"), "--no-report"]
    for s in spaces:
        args += ["--space", str(s)]
    for t in targets:
        args += ["--target", str(t)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    env.pop("HW_TEST_TOKEN", None)
    if token:
        env["HW_TEST_TOKEN"] = token
    return subprocess.Popen(
        [sys.executable, "-m", "hwbench", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows(db: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        return con.execute("SELECT * FROM measurements ORDER BY target, finished_at").fetchall()


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _stored_rounds(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM measurement_rounds").fetchone()[0]
    except sqlite3.OperationalError:  # no store or no table yet
        return 0


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.mark.extended  # the default suite: a board lost mid-sweep (tests/agent/test_pool.py)
@pytest.mark.remote
@pytest.mark.slow
def test_sweep_survives_a_killed_agent_and_resumes(tmp_path: Path, tiny_spaces: dict) -> None:
    agent = Agent(tmp_path / "agent").start()
    remote = agent_target(tmp_path / "targets", "t-board", agent.port)
    local = write_target(tmp_path / "targets", "t-local", "onnxruntime", "{format: onnx, opset: 18}")
    spaces = [tiny_spaces["mbconv"], tiny_spaces["convnext"]]
    db = tmp_path / "s.sqlite"
    try:
        proc = sweep(tmp_path, spaces, [remote, local])
        end = time.time() + 240
        # Kill the agent once one round is stored (a re-measure of a disturbed round may come first).
        while not _stored_rounds(db) and time.time() < end and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(0.3)  # the next job is on its way or running
        assert agent.log().count("measuring ") >= 2, agent.log()
        workers = children(agent.proc.pid)
        os.kill(agent.proc.pid, signal.SIGKILL)  # the agent only: its measurement process must follow it
        agent.proc.wait()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "t-board" in err and "stay pending" in err
        deadline = time.time() + 5
        while not all(gone(w) for w in workers) and time.time() < deadline:
            time.sleep(0.1)
        assert workers and all(gone(w) for w in workers)

        first = rows(db)
        board = [r for r in first if r["target"] == "t-board"]
        # Networks are measured in rounds: the first job finished round 1 of one network (kept, not final), the
        # second was cut off with the agent.
        assert [r["status"] for r in board] == ["error"]
        assert "unreachable" in board[0]["error"] and '"transport_error": true' in board[0]["info_json"]
        with sqlite3.connect(db) as con:
            kept_round = con.execute("SELECT measure_key, started_at FROM measurement_rounds").fetchall()
        assert len(kept_round) == 1
        assert [r["status"] for r in first if r["target"] == "t-local"] == ["ok"] * 4  # the sweep went on
        shown = run_cli("show", "b", "--store", str(db), cwd=tmp_path)
        assert shown.stdout.count("pending") == 3 and shown.stdout.count("measure_error") == 1

        agent.start()  # same port, same cache
        proc = sweep(tmp_path, spaces, [remote, local])
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        final = rows(db)
        assert len(final) == 8 and {r["status"] for r in final} == {"ok"}
        # The round finished before the kill was not measured again: it is the final record's first round.
        resumed = next(r for r in final if r["measure_key"] == kept_round[0][0])
        assert json.loads(resumed["info_json"])["rounds"][0]["started_at"] == kept_round[0][1]
        assert all(r["queue_seconds"] is not None and r["queue_seconds"] < 1 for r in final if r["target"] == "t-board")
        # The board's measurement child measured interference and ran the canary; the driver judged them.
        for r in (r for r in final if r["target"] == "t-board"):
            rounds = json.loads(r["info_json"])["rounds"]
            assert r["rounds"] == 2 and r["foreign_share"] is not None and r["disturbed"] in (0, 1)
            assert all(x["interference"]["available"] and x["canary"]["before_ms"] > 0 for x in rounds)
        keep = {r["measure_key"]: r["finished_at"] for r in first if r["status"] == "ok"}
        assert {r["measure_key"]: r["finished_at"] for r in final if r["measure_key"] in keep} == keep
        with sqlite3.connect(db) as con:
            assert con.execute(
                "SELECT COUNT(*), COUNT(DISTINCT arch_id || target), COUNT(measure_key) FROM runs"
            ).fetchone() == (8, 8, 8)
        # Each artifact crossed the network once, although the agent was killed and restarted in between.
        stored = re.findall(r"stored ([0-9a-f]{64}\.onnx)", agent.log())
        assert len(stored) == len(set(stored)) == 4
        # The board's provenance came with every remote result.
        with sqlite3.connect(db) as con:
            prov = con.execute(
                "SELECT p.json FROM measurements m JOIN provenance p USING (prov_id) WHERE m.target='t-board'"
            ).fetchall()
        assert prov and all('"agent":' in p[0] and '"device_id"' in p[0] and "onnxruntime" in p[0] for p in prov)

        # Nothing left to do: a third run measures nothing and does not need the board.
        agent.kill()
        proc = sweep(tmp_path, spaces, [remote, local])
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "0 new measurements" in err + out
    finally:
        agent.kill()


@pytest.mark.remote
def test_missing_token_stops_before_anything_runs(tmp_path: Path, tiny_spaces: dict) -> None:
    remote = agent_target(tmp_path / "targets", "t-board", 9)
    proc = sweep(tmp_path, [tiny_spaces["mbconv"]], [remote], token=None)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert re.search(r"t-board.yaml: agent.token_env: environment variable HW_TEST_TOKEN is not set", err), err
    assert "Traceback" not in err and not (tmp_path / "s.sqlite").exists()


@pytest.mark.extended
def test_per_image_timing_is_skipped_on_agent_targets_with_the_reason_stored(tmp_path: Path) -> None:
    """The agent receives the artifact only: a data-dependent ViT gets its usual statistics and a stored reason."""
    from tests.space.test_vit_space import write_spaces

    agent = Agent(tmp_path / "agent").start()
    fast = "measurement: {warmup_runs: 1, warmup_seconds: 0.0, min_runs: 6, min_seconds: 0.0, max_seconds: 0.5}\n"
    remote = agent_target(tmp_path / "targets", "t-board", agent.port, fast)
    remote.write_text(remote.read_text().replace("{format: onnx, opset: 18}", "{format: onnx}"))
    space = write_spaces(tmp_path / "design_spaces")["vit_ltmp"]
    try:
        proc = sweep(tmp_path, [space], [remote])
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    finally:
        agent.kill()
    measured = rows(tmp_path / "s.sqlite")
    assert [r["status"] for r in measured] == ["ok", "ok"]
    assert all("per-image latency is measured on local targets only" in r["info_json"] for r in measured)
