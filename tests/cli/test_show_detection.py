"""`hwbench show` on a detection sweep: mAP, boxes, head MACs and graph / NMS / end-to-end ms, fitted to 80 columns;
a classification sweep shows what it showed before."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from hwbench.cli import app
from hwbench.cli.show_columns import COLUMNS
from hwbench.store import Store
from tests.analysis.test_detection_frame import fill_detection
from tests.report.fill import fill
from tests.report.test_report import sweep_rows


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with detection sweep 'det' and classification sweep 'cls'."""
    path = tmp_path_factory.mktemp("show_det") / "s.sqlite"
    store = Store(path)
    fill_detection(store)
    fill(store, "cls", sweep_rows(blocks=("mbconv", "fused"), targets=("cpu",), n=3, fail=False))
    store.close()
    return path


def _show(store: Path, *args: str, columns: int = 80) -> str:
    result = CliRunner().invoke(app, ["show", *args, "--store", str(store)], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def _table_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]


def test_detection_table_fits_80_columns_and_says_what_the_latencies_are(store: Path) -> None:
    out = _show(store, "det", "--target", "cpu")
    assert max(len(line) for line in _table_lines(out)) <= 80 and "…" not in out
    assert "mAP" in out and "e2e ms" in out and "top-1" not in out
    assert "20.0%" in out  # dmbconv-0: mAP 0.20
    assert "columns hidden to fit 80 columns" in out
    note = " ".join(out.split())  # the footnote is wrapped to the width
    assert "untrained weights" in note and "median over 3 test images" in note and "on the host (numpy)" in note
    wide = _show(store, "det", "--target", "cpu", columns=250)
    for header in ("mAP", "AP50", "boxes", "head MACs", "graph ms", "NMS ms", "e2e ms", "NMS share"):
        assert header in wide, header
    assert "hidden" not in wide and "25.0%" in wide and "1460" in wide  # NMS share 0.5/2.0; convnext's boxes


def test_detection_csv_json_markdown(store: Path) -> None:
    frame = pd.read_csv(io.StringIO(_show(store, "det", "--format", "csv")))
    for column in ("map", "map50", "boxes", "head_macs", "det_graph_ms", "det_nms_ms", "det_e2e_ms", "nms_share"):
        assert column in frame.columns, column
    assert "top1" not in frame.columns and len(frame) == 12
    row = frame[(frame["arch_id"] == "dmbconv-1") & (frame["target"] == "cpu")].iloc[0]
    assert row["nms_share"] == pytest.approx(0.4 / 2.0) and row["det_nms_ms"] == pytest.approx(0.4)
    records = json.loads(_show(store, "det", "--format", "json", "--columns", "arch_id,target,nms_placement"))
    assert {r["nms_placement"] for r in records} == {"host", "graph", None}  # None: not timed in parts
    md = _show(store, "det", "--format", "markdown", "--columns", "arch_id,map,boxes,nms_share", "--target", "cpu")
    assert (
        "| dconvnext-0 | 21.0% | 1460 | 25.0% |" in md and md.splitlines()[0] == "| arch_id | mAP | boxes | NMS share |"
    )


def test_graph_placement_leaves_nms_blank(store: Path) -> None:
    md = _show(store, "det", "--format", "markdown", "--columns", "arch_id,det_e2e_ms,det_nms_ms", "--target", "npu")
    assert "| dconvnext-0 | 2 | – |" in md  # in-graph NMS: end to end only


def test_classification_output_is_unchanged(store: Path) -> None:
    out = _show(store, "cls", columns=250)
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    assert [h.strip() for h in header.strip("┃").split("┃")] == [
        c.header for k, c in COLUMNS.items() if k not in ("flags", "artifact", "error")
    ]
    assert "untrained weights" not in out
    frame = pd.read_csv(io.StringIO(_show(store, "cls", "--format", "csv")))
    assert not {"map", "det_e2e_ms", "nms_share"} & set(frame.columns) and frame["top1"].notna().all()
    result = CliRunner().invoke(app, ["show", "cls", "--columns", "map", "--store", str(store)])
    assert result.exit_code != 0  # detection columns are unknown for a classification sweep


def test_map_intervals_and_the_artifacts_map_are_shown_where_stored(store: Path) -> None:
    wide = _show(store, "det", "--target", "cpu", columns=250)
    assert "mAP 95% CI" in wide and "23.0–29.0%" in wide  # dconvnext-1: mAP 26.0% ± 3 points
    assert "artifact mAP" in wide and "19.0%" in wide and "16.0–22.0%" in wide
    assert "not the variance over training seeds" in " ".join(wide.split())
    npu = _show(store, "det", "--target", "npu", columns=250)
    assert "mAP 95% CI" in npu and "artifact mAP" not in npu  # no artifact was scored on npu: column dropped
    frame = pd.read_csv(io.StringIO(_show(store, "det", "--format", "csv")))
    assert {"map_ci_low", "map_ci_high", "artifact_map", "artifact_map_ci_low"} <= set(frame.columns)
