"""`hwbench prune-anchors` on a detector trained by a real (short) detection sweep: the front is stored, a re-run
resumes without scoring anything again, the slow check agrees with the fast evaluation, the latency cost is
labelled predicted, and bad input is one line naming the option (nothing stored)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hwbench.cli import app
from hwbench.pipeline.request import SweepRequest
from hwbench.pipeline.run import run_sweep
from tests.conftest import ROOT, write_target

# Long enough for confident scores (about 70 candidates per image, not every anchor), short on 2 cores.
SCHEDULE = """\
epochs: 4
batch_size: 16
resolution: 128
train_images: 192
val_images: 32
optimizer: {name: adamw, lr: 1.0e-2, weight_decay: 5.0e-5}
lr_schedule: {name: cosine, warmup_epochs: 0.2, warmup_start: 0.1, final: 0.0}
label_smoothing: 0.0
augment: {crop_padding: 0, hflip: false}
eval_batch_size: 32
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One det_mbconv detector trained on digits-det and timed in parts on onnxruntime."""
    root = tmp_path_factory.mktemp("prune")
    (root / "sched.yaml").write_text(SCHEDULE)
    target = write_target(root / "targets", "ort", "onnxruntime", "{format: onnx}")
    req = SweepRequest(
        name="det",
        seed=0,
        store=root / "s.sqlite",
        targets=[target],
        schedule=root / "sched.yaml",
        report=False,
        dataset="digits-det",
        spaces=[ROOT / "design_spaces" / "det_mbconv.yaml"],
        n=1,
    )
    run_sweep(req)
    with sqlite3.connect(req.store) as db:
        [(arch_id,)] = db.execute("SELECT arch_id FROM archs").fetchall()
    return {"store": req.store, "arch": arch_id, "target": target}


def prune(trained: dict, *args: str) -> object:
    base = ["prune-anchors", "det", "--arch", trained["arch"], "--store", str(trained["store"]), *args]
    return CliRunner().invoke(app, base, env={"COLUMNS": "200"})


def rows(db: Path, sql: str) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        return con.execute(sql).fetchall()


@pytest.mark.slow
def test_search_stores_front_resumes_and_agrees_with_slow_mode(trained: dict) -> None:
    first = prune(trained, "--max-nodes", "40", "--validate", "1")
    assert first.exit_code == 0, first.output
    assert "all (the unpruned detector)" in first.output and "slow check" in first.output
    [search] = rows(trained["store"], "SELECT * FROM anchor_searches")
    assert search["status"] == "ok" and search["strategy"] == "greedy" and search["cost"] == "macs"
    nodes = rows(trained["store"], "SELECT * FROM anchor_nodes")
    visited, front = json.loads(search["visited_json"]), json.loads(search["front_json"])
    assert visited[0] == [] and len(nodes) == len(visited) <= 40 and front
    # The front is mAP up, head MACs down, and every front point reaches the floor (90 % of the unpruned mAP).
    by_removed = {r["removed"]: r for r in nodes}
    points = [by_removed[json.dumps(f)] for f in front]
    assert all(p["map"] >= search["min_map"] for p in points)
    assert [p["head_macs"] for p in points] == sorted(p["head_macs"] for p in points)
    assert search["min_map"] == pytest.approx(0.9 * by_removed["[]"]["map"], abs=1e-6)
    [check] = json.loads(search["info_json"])["validation"]
    assert check["fast_map"] == pytest.approx(check["slow_map"], abs=1e-6)
    # Re-run: the same search, nothing scored again, the same front.
    again = prune(trained, "--max-nodes", "40")
    assert again.exit_code == 0, again.output
    assert len(rows(trained["store"], "SELECT * FROM anchor_nodes")) == len(nodes)
    assert json.loads(rows(trained["store"], "SELECT front_json FROM anchor_searches")[0][0]) == front


@pytest.mark.slow
def test_front_is_measured_in_parts_beside_the_unpruned_detector(trained: dict) -> None:
    result = prune(trained, "--strategy", "shared", "--max-nodes", "12", "--target", str(trained["target"]))
    assert result.exit_code == 0, result.output
    assert "predicted vs measured end to end" in result.output
    [search] = rows(trained["store"], "SELECT * FROM anchor_searches WHERE strategy = 'shared'")
    key = search["search_key"]
    measured = rows(
        trained["store"], f"SELECT * FROM anchor_measurements WHERE search_key = '{key}' AND variant = 'pruned'"
    )
    front = json.loads(search["front_json"])
    # Every front point plus the unpruned detector, timed in this run, each artifact scoring its own mAP.
    assert {m["removed"] for m in measured} == {"[]", *(json.dumps(f) for f in front)}
    nodes = {r["removed"]: r for r in rows(trained["store"], "SELECT * FROM anchor_nodes")}
    for m in measured:
        assert m["status"] == "ok" and m["e2e_ms"] >= m["graph_ms"] > 0 and m["predicted_e2e_ms"] > 0
        # fp32 ONNX of the surgically pruned weights scores what the fast evaluation scored: both are exact.
        assert m["artifact_map"] == pytest.approx(nodes[m["removed"]]["map"], abs=1e-4)
    derived = f"det-anchors-{search['search_key'][:8]}"
    members = rows(trained["store"], f"SELECT space FROM sweep_archs WHERE sweep = '{derived}'")
    assert sorted(m["space"] for m in members) == ["anchor-pruned"] * (len(measured) - 1) + ["unpruned"]
    sources = rows(
        trained["store"],
        f"SELECT a.source FROM sweep_accuracy l JOIN accuracies a USING (acc_key) WHERE l.sweep = '{derived}'",
    )
    assert sorted(r["source"] for r in sources) == ["pruned"] * (len(measured) - 1) + ["trained"]
    # Re-run: nothing exported or timed again.
    timed = len(rows(trained["store"], "SELECT * FROM detection_timings"))
    assert (
        prune(trained, "--strategy", "shared", "--max-nodes", "12", "--target", str(trained["target"])).exit_code == 0
    )
    assert len(rows(trained["store"], "SELECT * FROM detection_timings")) == timed


@pytest.mark.slow
def test_report_has_the_anchor_pruning_section(trained: dict, tmp_path: Path) -> None:
    from hwbench.report import write_report
    from hwbench.store import Store

    args = ["--strategy", "shared", "--max-nodes", "12", "--target", str(trained["target"])]
    assert prune(trained, *args).exit_code == 0  # resumes what the front test measured, when it ran first
    store = Store(trained["store"], create=False)
    try:
        html = write_report(store, ["det"], tmp_path / "report").read_text()
    finally:
        store.close()
    assert 'id="anchor-pruning"' in html and "shared search on macs" in html and "is modelled" in html
    assert list((tmp_path / "report").glob("anchor_nodes_*.csv")) and list(
        (tmp_path / "report").glob("anchors_*_ort.png")
    )


@pytest.mark.extended  # trains two detectors: the surgery path above covers measuring in the default suite
def test_retrained_front_is_trained_on_the_schedule_and_measured(trained: dict) -> None:
    args = ["--strategy", "shared", "--max-nodes", "12", "--points", "2", "--target", str(trained["target"])]
    result = prune(trained, *args, "--retrain")
    assert result.exit_code == 0, result.output
    assert "retrained from scratch" in result.output
    retrained = rows(trained["store"], "SELECT * FROM anchor_measurements WHERE variant = 'retrained'")
    assert {m["removed"] for m in retrained} >= {"[]"} and len(retrained) >= 2
    assert all(m["status"] == "ok" and m["map"] is not None and m["predicted_e2e_ms"] is None for m in retrained)
    sweep = json.loads(retrained[0]["info_json"])["sweep"]
    sources = rows(
        trained["store"],
        f"SELECT a.source FROM sweep_accuracy l JOIN accuracies a USING (acc_key) WHERE l.sweep = '{sweep}'",
    )
    assert {r["source"] for r in sources} == {"trained"}  # the pruned architectures trained, not given


@pytest.mark.slow
def test_latency_cost_is_predicted_from_the_measured_parts(trained: dict) -> None:
    result = prune(trained, "--cost", "latency:ort", "--strategy", "shared", "--max-nodes", "15")
    assert result.exit_code == 0, result.output
    assert "e2e ms on ort (predicted)" in result.output
    search = rows(trained["store"], "SELECT * FROM anchor_searches WHERE cost = 'latency:ort'")[0]
    cost = json.loads(search["info_json"])["cost"]
    assert cost["kind"] == "predicted" and cost["model"]["graph_ms"] > 0 and cost["model"]["target"] == "ort"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "best"], "--strategy: expected one of greedy, layerwise, shared"),
        (["--cost", "flops"], "--cost: expected macs, boxes or latency:TARGET"),
        (["--min-map", "25"], "--min-map: a fraction in [0, 1]"),
        (["--cost", "latency:nowhere"], "no detection timing of this detector on 'nowhere'"),
    ],
)
def test_bad_options_are_one_line(trained: dict, args: list[str], message: str) -> None:
    before = rows(trained["store"], "SELECT COUNT(*) FROM anchor_searches")[0][0]
    result = prune(trained, *args)
    assert result.exit_code != 0 and message in str(result.exception or result.output)
    assert rows(trained["store"], "SELECT COUNT(*) FROM anchor_searches")[0][0] == before


def test_unknown_or_untrained_network(trained: dict, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["prune-anchors", "det", "--arch", "0" * 16, "--store", str(trained["store"])])
    assert result.exit_code != 0 and "no such network in sweep 'det'" in str(result.exception)
    missing = CliRunner().invoke(app, ["prune-anchors", "det", "--arch", "x", "--store", str(tmp_path / "no.sqlite")])
    assert missing.exit_code != 0 and "no results store here" in str(missing.exception)
