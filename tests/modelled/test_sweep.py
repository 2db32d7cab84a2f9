"""A sweep with a modelled and a measured target: both kinds stored, resumed, and labelled in show and the report."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import FAST_MEASUREMENT, TINY_MACRO, TINY_SPACE, run_cli
from tests.modelled.conftest import needs_zigzag

pytestmark = [needs_zigzag(), pytest.mark.export, pytest.mark.slow]
MODELLED = """\
name: m-edge
description: edge_tpu_like, modelled (test)
runner: zigzag
export: {format: onnx, precision: fp32, opset: 18}
runner_options: {accelerator: edge_tpu_like, clock_mhz: 500, effort: lowest}
"""


def test_sweep_stores_and_labels_both_kinds(tmp_path: Path) -> None:
    (tmp_path / "macros").mkdir()
    (tmp_path / "macros" / "tiny.yaml").write_text(TINY_MACRO)
    space = tmp_path / "tiny_mbconv.yaml"
    space.write_text(TINY_SPACE.format(name="tiny_mbconv", block="mbconv"))
    measured = tmp_path / "t-ort.yaml"
    measured.write_text(
        "name: t-ort\nrunner: onnxruntime\nthreads: 1\nexport: {format: onnx, opset: 18}\n" + FAST_MEASUREMENT
    )
    modelled = tmp_path / "m-edge.yaml"
    modelled.write_text(MODELLED)
    store = tmp_path / "s.sqlite"
    args = ["--space", str(space), "--target", str(measured), "--target", str(modelled), "--n", "2", "--name", "s"]
    out = run_cli("sweep", *args, "--no-train", "--store", str(store), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "2 new modelled (not measured)" in out.stdout + out.stderr

    db = sqlite3.connect(store)
    kinds = db.execute("SELECT kind, status, COUNT(*) FROM modelled GROUP BY kind, status").fetchall()
    assert kinds == [("modelled", "ok", 2)]
    assert db.execute("SELECT COUNT(*) FROM measurements WHERE status='ok'").fetchone()[0] == 2
    prov = json.loads(db.execute("SELECT p.json FROM modelled m JOIN provenance p USING (prov_id)").fetchone()[0])
    assert prov["kind"] == "modelled" and prov["model"]["versions"]["zigzag-dse"] == "3.9.1"
    assert len(prov["model"]["accelerator"]["sha256"]) == 64 and prov["settings"]["effort"] == "lowest"
    layers = db.execute("SELECT COUNT(*) FROM modelled_layers").fetchone()[0]
    assert layers > 0
    # The second network went out after the first was stored: it found the layers they share (the stem) cached.
    assert db.execute("SELECT MAX(layers_cached) FROM modelled").fetchone()[0] > 0

    again = run_cli("sweep", *args, "--no-train", "--no-report", "--store", str(store), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "new modelled" not in again.stdout + again.stderr
    assert db.execute("SELECT COUNT(*) FROM modelled").fetchone()[0] == 2  # one key, one record: nothing redone
    assert db.execute("SELECT COUNT(*) FROM modelled_layers").fetchone()[0] == layers

    shown = run_cli("show", "s", "--store", str(store), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    measured_part, modelled_part = shown.stdout.split("Modelled targets (kind: modelled, not measured):")
    assert "t-ort" in measured_part and "m-edge" not in measured_part  # never in the measured table
    assert "m-edge" in modelled_part and "modelled ms" in modelled_part and "modelled µJ" in modelled_part
    csv = run_cli("show", "s", "--store", str(store), "--format", "csv", cwd=tmp_path).stdout.splitlines()
    assert csv[0].startswith("kind,") and sum(line.startswith("modelled,") for line in csv) == 2
    assert sum(line.startswith("measured,") for line in csv) == 2

    html = (tmp_path / "s" / "report.html").read_text()  # the report beside the store, under the sweep name
    assert "Modelled accelerators (ZigZag): modelled, not measured" in html
    assert "m-edge (modelled)" in html and (tmp_path / "s" / "modelled.csv").is_file()
    layers = (tmp_path / "s" / "modelled_layers.csv").read_text().splitlines()
    assert layers[0].startswith("kind,target,arch_id,layer,node,op") and len(layers) > 2

    table = tmp_path / "t" / "results.csv"
    out = run_cli("export-table", "s", "--store", str(store), "-o", str(table), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "2 modelled (not measured) rows" in out.stdout
    measured_rows = table.read_text().splitlines()
    modelled_rows = (tmp_path / "t" / "results.modelled.csv").read_text().splitlines()
    assert len(measured_rows) == 3 and all("m-edge" not in line for line in measured_rows)
    assert len(modelled_rows) == 3 and all(",m-edge," in line for line in modelled_rows[1:])
    import hwbench as hb

    assert hb.modelled_results("s", store)["kind"].tolist() == ["modelled", "modelled"]


def test_a_sweep_of_modelled_targets_only_reports_them(tmp_path: Path, tiny_spaces: dict) -> None:
    from hwbench.pipeline import SweepRequest, run_sweep

    modelled = tmp_path / "m-edge.yaml"
    modelled.write_text(MODELLED.replace("effort: lowest}", "effort: lowest, workers: 2}"))  # two at once
    store = tmp_path / "r" / "s.sqlite"
    request = SweepRequest(name="m", spaces=[tiny_spaces["fused_mbconv"]], targets=[modelled], n=2, seed=0, store=store)
    counts = run_sweep(request)
    assert counts["modelled"] == 2 and counts["measurements"] == 0
    html = (request.output_dir / "report.html").read_text()
    assert "modelled targets only" in html and "Modelled accelerators (ZigZag): modelled, not measured" in html
