"""A ViT detector sweep with a board target (a real agent on loopback): the backbone alone is exported from the
trained weights and timed on the board after the parts, and its record holds the same `backbone` part as the
local target's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwbench.pipeline.run import run_sweep
from tests.agent.conftest import TOKEN, Agent
from tests.agent.test_sweep import agent_target
from tests.conftest import FAST_MEASUREMENT, ROOT, write_target
from tests.pipeline.test_det_sweep import request, rows
from tests.pipeline.test_det_timing import Notes

pytestmark = [pytest.mark.slow, pytest.mark.remote, pytest.mark.extended]


def test_a_board_times_a_vit_detectors_backbone_as_a_local_target_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HW_TEST_TOKEN", TOKEN)
    agent = Agent(tmp_path / "agent").start()
    local = write_target(tmp_path / "targets", "ort-here", "onnxruntime", "{format: onnx}")
    board = agent_target(tmp_path / "targets", "ort-board", agent.port, FAST_MEASUREMENT)
    req = request(tmp_path, [local, board], n=1, stage="train", spaces=[ROOT / "design_spaces" / "det_vit.yaml"])
    try:
        counts = run_sweep(req, Notes())
        assert counts["trained"] == 1 and counts["detection_timings"] == 2
        timings = {t["target"]: t for t in rows(req.store, "SELECT * FROM detection_timings")}
        assert {t: r["status"] for t, r in timings.items()} == {"ort-here": "ok", "ort-board": "ok"}
        backbone = {t: json.loads(r["info_json"])["backbone"] for t, r in timings.items()}
        assert "error" not in backbone["ort-board"], backbone["ort-board"]
        assert set(backbone["ort-board"]) == set(backbone["ort-here"])
        assert len(backbone["ort-board"]["image_median_ms"]) == timings["ort-board"]["images"] == 24
        assert agent.log().count("measuring ") == 1
    finally:
        agent.kill()
