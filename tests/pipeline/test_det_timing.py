"""Detection timing beyond this machine: a detection sweep whose target is a board (a real agent on loopback) times
its trained detector there in parts, stores the artifact's own mAP (equal to the PyTorch mAP for fp32 ONNX), keeps
the board's own fingerprint, leaves an unreachable board's detectors pending and finishes them on a re-run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hwbench.pipeline.run import run_sweep
from tests.agent.conftest import TOKEN, Agent
from tests.agent.test_sweep import agent_target
from tests.conftest import FAST_MEASUREMENT, write_target
from tests.pipeline.test_det_sweep import request, rows

pytestmark = [pytest.mark.slow, pytest.mark.remote]


class Notes:
    """A progress display that keeps the notes."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    @contextmanager
    def task(self, description: str, total: int) -> Iterator[Any]:
        class Bar:
            def advance(self, steps: int = 1) -> None:
                pass

        yield Bar()

    def note(self, message: str) -> None:
        self.notes.append(message)


def board_sweep(tmp_path: Path, port: int) -> Any:
    local = write_target(tmp_path / "targets", "ort-here", "onnxruntime", "{format: onnx}")
    board = agent_target(tmp_path / "targets", "ort-board", port, FAST_MEASUREMENT)
    return request(tmp_path, [local, board], n=1, stage="train")


def test_a_board_times_trained_detectors_and_the_artifact_map_matches_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HW_TEST_TOKEN", TOKEN)
    agent = Agent(tmp_path / "agent").start()
    req = board_sweep(tmp_path, agent.port)
    try:
        first = run_sweep(req, Notes())
        assert first["trained"] == 1 and first["detection_timings"] == 2
        timings = {t["target"]: t for t in rows(req.store, "SELECT * FROM detection_timings")}
        assert set(timings) == {"ort-here", "ort-board"} and agent.log().count("measuring ") == 1
        on_board = timings["ort-board"]
        assert on_board["status"] == "ok", on_board["error"]
        assert on_board["target_fp"] != timings["ort-here"]["target_fp"]  # the board's own fingerprint
        assert on_board["images"] == 24 and on_board["nms_ms"] > 0 and on_board["e2e_ms"] >= on_board["graph_ms"]
        [prov] = rows(
            req.store,
            "SELECT p.json FROM detection_timings d JOIN provenance p USING (prov_id) WHERE d.target = 'ort-board'",
        )
        assert json.loads(prov["json"])["agent"]["address"] == f"127.0.0.1:{agent.port}"

        # The artifact's own mAP, on the images training scored (32 of them), equals the PyTorch mAP.
        [trained] = rows(req.store, "SELECT map, map50, map_ci_low, map_ci_high FROM accuracies")
        for t in timings.values():
            assert t["artifact_images"] == 32
            assert t["artifact_map"] == pytest.approx(trained["map"], abs=0.01)
            assert t["artifact_map50"] == pytest.approx(trained["map50"], abs=0.01)
            # The same bootstrap over the same images as training's interval (its coverage is tested there).
            assert t["artifact_map_ci_low"] <= t["artifact_map"] <= t["artifact_map_ci_high"]
            assert t["artifact_map_ci_low"] == pytest.approx(trained["map_ci_low"], abs=0.02)
            assert t["artifact_map_ci_high"] == pytest.approx(trained["map_ci_high"], abs=0.02)
            info = json.loads(t["info_json"])
            assert "detections" not in info and info["artifact_detections"] == "graph + host NMS"

        again = run_sweep(req, Notes())  # resumes: nothing timed twice, nothing duplicated
        assert again["detection_timings"] == 0 and len(rows(req.store, "SELECT * FROM detection_timings")) == 2
        assert len(rows(req.store, "SELECT * FROM sweep_detection_timings")) == 2
        assert agent.log().count("measuring ") == 1
    finally:
        agent.kill()


@pytest.mark.extended  # the default suite: a board lost mid-run (below) and the board sweep above
def test_an_unreachable_board_leaves_its_detectors_pending_until_a_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HW_TEST_TOKEN", TOKEN)
    agent = Agent(tmp_path / "agent").start()
    agent.kill()  # the board is off at first
    req = board_sweep(tmp_path, agent.port)
    notes = Notes()
    try:
        first = run_sweep(req, notes)
        assert first["trained"] == 1 and first["detection_timings"] == 1  # this machine only
        assert any("ort-board: detection latency not timed" in n and "stay pending" in n for n in notes.notes)
        assert [t["target"] for t in rows(req.store, "SELECT * FROM detection_timings")] == ["ort-here"]
        agent.start()  # the board is back: a re-run times what is missing there, and only that
        again = run_sweep(req, Notes())
        assert again["trained"] == 0 and again["detection_timings"] == 1
        statuses = {t["target"]: t["status"] for t in rows(req.store, "SELECT * FROM detection_timings")}
        assert statuses == {"ort-here": "ok", "ort-board": "ok"} and agent.log().count("measuring ") == 1
    finally:
        agent.kill()


def test_a_board_lost_mid_run_leaves_a_retried_failure_and_the_rest_pending(tmp_path: Path) -> None:
    from hwbench.agent.client import AgentClient
    from hwbench.config.target import load_target
    from hwbench.pipeline.det_remote import time_on_board
    from hwbench.pipeline.det_timing import _done
    from hwbench.pipeline.remote import Board

    agent = Agent(tmp_path / "agent").start()
    agent.kill()  # gone before the first job reaches it
    target = agent_target(tmp_path / "targets", "ort-board", agent.port, FAST_MEASUREMENT)
    client = AgentClient("127.0.0.1", agent.port, TOKEN, retries=1, backoff_s=0.01)
    recorded: list[tuple[str, dict]] = []
    notes = Notes()
    jobs = [(f"key{i}", {"images": "x.npy"}) for i in range(3)]
    files = lambda key: ((str(target), "0" * 64, ".onnx"), (str(target), "1" * 64))  # noqa: E731 (never read)
    record = lambda key, result: recorded.append((key, result))  # noqa: E731
    time_on_board(Board(client, {}), load_target(target), jobs, files, lambda job: 10.0, record, notes)
    [(key, result)] = recorded  # the first job's failure; the other two stay pending
    assert key == "key0" and result["status"] == "error" and result["transport_error"] is True
    assert "unreachable" in result["error"] and "re-run the sweep when the board is back" in notes.notes[0]
    # A stored transport failure is timed again by the next run, even without --retry-errors; others are not.
    row = {"status": "error", "info_json": json.dumps({"transport_error": True})}
    assert not _done(row, retry_errors=False)
    assert _done({"status": "error", "info_json": "{}"}, retry_errors=False)
    assert not _done({"status": "error", "info_json": "{}"}, retry_errors=True)
