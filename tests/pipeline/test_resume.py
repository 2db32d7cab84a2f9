"""A real sweep process killed with SIGKILL (and one stopped with Ctrl-C) resumes without duplicates."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, write_target

SLOW = "measurement: {warmup_runs: 2, warmup_seconds: 0.0, min_runs: 6, min_seconds: 0.6, max_runs: 5000, max_seconds: 0.6}\n"


def start(tmp_path: Path, spaces: list[Path], target: Path) -> subprocess.Popen:
    args = [
        "sweep",
        "--name",
        "r",
        "--n",
        "3",
        "--store",
        str(tmp_path / "s.sqlite"),
        "--target",
        str(target),
        "--no-report",
    ]
    for s in spaces:
        args += ["--space", str(s)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Background shells (CI, tool runners) start children with SIGINT ignored; a user's terminal does not.
    return subprocess.Popen(
        [sys.executable, "-m", "hwbench", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def measured(db: Path) -> dict[str, str]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db) as con:
            return dict(con.execute("SELECT measure_key, finished_at FROM measurements").fetchall())
    except sqlite3.OperationalError:
        return {}


def rounds(db: Path) -> dict[tuple[str, int], str]:
    """Finished rounds of networks not yet final: (measure key, round) -> started_at."""
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db) as con:
            rows = con.execute("SELECT measure_key, round, started_at FROM measurement_rounds").fetchall()
    except sqlite3.OperationalError:
        return {}
    return {(k, r): t for k, r, t in rows}


def wait_for(predicate, timeout: float = 240) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the sweep")


def test_kill_9_then_resume(tmp_path: Path, tiny_spaces: dict) -> None:
    target = write_target(tmp_path / "targets", "t-ort", "onnxruntime", "{format: onnx}").read_text()
    (tmp_path / "targets" / "t-ort.yaml").write_text(target.split("measurement:")[0] + SLOW)
    spaces = [tiny_spaces["mbconv"], tiny_spaces["resnet_bottleneck"]]
    db = tmp_path / "s.sqlite"
    proc = start(tmp_path, spaces, tmp_path / "targets" / "t-ort.yaml")
    # Networks are measured in rounds; the final records come at the end of the block: kill mid-round 1.
    wait_for(lambda: len(rounds(db)) >= 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = measured(db)
    kept = rounds(db)
    assert 2 <= len(kept) < 6 and not before

    proc = start(tmp_path, spaces, tmp_path / "targets" / "t-ort.yaml")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    after = measured(db)
    assert len(after) == 6
    with sqlite3.connect(db) as con:
        info = dict(con.execute("SELECT measure_key, info_json FROM measurements").fetchall())
        for (key, r), started in kept.items():  # the rounds finished before the kill were not measured again
            assert json.loads(info[key])["rounds"][r]["started_at"] == started
        assert con.execute("SELECT COUNT(*) FROM measurement_rounds").fetchone()[0] == 0
        runs = con.execute(
            "SELECT COUNT(*), COUNT(DISTINCT arch_id || target), COUNT(measure_key) FROM runs"
        ).fetchone()
        assert runs == (6, 6, 6)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.extended  # the default suite resumes after kill -9 (above), the harder stop
def test_ctrl_c_stops_cleanly(tmp_path: Path, tiny_spaces: dict) -> None:
    target = write_target(tmp_path / "targets", "t-ort", "onnxruntime", "{format: onnx}").read_text()
    (tmp_path / "targets" / "t-ort.yaml").write_text(target.split("measurement:")[0] + SLOW)
    db = tmp_path / "s.sqlite"
    proc = start(tmp_path, [tiny_spaces["convnext"]], tmp_path / "targets" / "t-ort.yaml")
    wait_for(lambda: len(rounds(db)) >= 1)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "re-run the same command to resume" in err and "Traceback" not in err
    with sqlite3.connect(db) as con:
        statuses = {r[0] for r in con.execute("SELECT status FROM measurements")}
        statuses |= {r[0] for r in con.execute("SELECT status FROM measurement_rounds")}
    assert statuses == {"ok"}  # an interrupted measurement is not stored as a failure
