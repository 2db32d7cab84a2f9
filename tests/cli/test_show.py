"""`hwbench show`: fits 80 columns when piped, machine-readable formats, column choice, CoV in %, flags."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import FAST_MEASUREMENT, ROOT, TINY_MACRO, TINY_SPACE, run_cli


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with sweep 's': two tiny networks on one fast onnxruntime target."""
    base = tmp_path_factory.mktemp("show")
    (base / "macros").mkdir()
    (base / "macros" / "tiny.yaml").write_text(TINY_MACRO)
    space = base / "tiny_resnet_bottleneck.yaml"
    space.write_text(TINY_SPACE.format(name="tiny_resnet_bottleneck", block="resnet_bottleneck"))
    target = base / "t.yaml"
    target.write_text(
        "name: t\nrunner: onnxruntime\nthreads: 1\nexport: {format: onnx, opset: 18}\n" + FAST_MEASUREMENT
    )
    args = ["--space", str(space), "--target", str(target), "--n", "2", "--name", "s", "--no-train", "--no-report"]
    out = run_cli("sweep", *args, "--store", str(base / "s.sqlite"), cwd=base)
    assert out.returncode == 0, out.stderr
    return base / "s.sqlite"


def _show(store: Path, *args: str, columns: int | None = None) -> tuple[int, str, str]:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["PYTHONPATH"] = str(ROOT)
    if columns:
        env["COLUMNS"] = str(columns)
    out = subprocess.run(
        [sys.executable, "-m", "hwbench", "show", "s", "--store", str(store), *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    return out.returncode, out.stdout, out.stderr


def test_piped_table_fits_80_columns_without_cutting_cells(swept: Path) -> None:
    code, out, err = _show(swept)
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert out.count("tiny_resnet_bottleneck") == 2  # whole names, not "ti…"
    assert "…" not in out and "median ms" in out
    assert "columns hidden to fit 80 columns" in out
    code, wide, _ = _show(swept, columns=200)
    assert "arch_id" in wide and "95% CI ms" in wide and "hidden" not in wide


def test_cov_shown_as_percent(swept: Path) -> None:
    frame = pd.read_csv(io.StringIO(_show(swept, "--format", "csv")[1]))
    _, out, _ = _show(swept, "--format", "markdown", "--columns", "arch_id,cov")
    for arch_id, cov in zip(frame["arch_id"], frame["cov"]):
        assert f"| {arch_id} | {100 * cov:.1f}% |" in out


def test_csv_json_markdown_to_stdout(swept: Path) -> None:
    code, out, _ = _show(swept, "--format", "csv", "--columns", "space,median_ms,ci,cov")
    frame = pd.read_csv(io.StringIO(out))
    assert code == 0 and list(frame.columns) == ["space", "median_ms", "ci_low_ms", "ci_high_ms", "cov"]
    assert len(frame) == 2 and (frame["ci_low_ms"] <= frame["median_ms"]).all()
    code, out, _ = _show(swept, "--format", "json", "--columns", "arch_id,n_runs")
    records = json.loads(out)
    assert code == 0 and len(records) == 2 and set(records[0]) == {"arch_id", "n_runs"} and records[0]["n_runs"] > 0
    code, out, _ = _show(swept, "--format", "markdown")
    assert code == 0 and out.splitlines()[1].startswith("|---") and out.count("tiny_resnet_bottleneck") == 2


def test_unknown_column_or_format_exits_2_naming_it(swept: Path) -> None:
    code, _, err = _show(swept, "--columns", "space,mdian_ms")
    assert code == 2 and err.count("\n") == 1
    assert "unknown column 'mdian_ms' (did you mean 'median_ms'?); valid: space, arch_id" in err
    code, _, err = _show(swept, "--format", "xml")
    assert code == 2 and "--format: expected one of table, csv, json, markdown, got 'xml'" in err


def test_flags_mark_disturbed_and_unconverged() -> None:
    from hwbench.cli.show_columns import flags

    assert flags({"status": "ok", "converged": 1, "disturbed": False}) == ""
    assert flags({"status": "ok", "converged": 0}) == "not conv."
    assert flags({"status": "ok", "converged": 1, "disturbed": True}) == "dist."
    assert flags({"status": "ok", "converged": 0, "disturbed": 1}) == "dist. not conv."
    assert flags({"status": "measure_error", "converged": float("nan")}) == ""


def test_choose_columns_drops_low_priority_first() -> None:
    from hwbench.cli.show_columns import COLUMNS, choose_columns

    cells = {k: ["x" * 10] for k in COLUMNS}
    headers = {k: k for k in COLUMNS}
    kept = choose_columns(cells, headers, 70)
    assert {"space", "target", "median_ms", "top1"} <= set(kept) and "artifact" not in kept and "runs" not in kept
    assert len(kept) == 5 and "flags" in kept  # 5 × 13 + 1 <= 70
    assert choose_columns(cells, headers, 1000) == list(COLUMNS)
