"""A sweep, then `show`, `export-table` (csv, parquet) and `report` on its store; unknown names exit 2."""

from pathlib import Path

import pandas as pd

from tests.conftest import run_cli


def test_show_export_and_report(tmp_path: Path, tiny_spaces: dict, fast_targets: dict) -> None:
    store = str(tmp_path / "s.sqlite")
    out = run_cli(
        "sweep",
        "--space",
        str(tiny_spaces["resnet_bottleneck"]),
        "--target",
        str(fast_targets["ort"]),
        "--n",
        "2",
        "--name",
        "cli",
        "--store",
        store,
        "--no-train",  # latency only (training through the CLI: tests/cli/test_accuracy.py)
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "trained" not in out.stderr
    shown = run_cli("show", "cli", "--store", store, cwd=tmp_path)
    assert shown.stdout.count("tiny_resnet_bottleneck") == 2 and " ok " in shown.stdout
    for fmt in ("csv", "parquet"):
        path = tmp_path / f"t.{fmt}"
        assert (
            run_cli("export-table", "cli", "--format", fmt, "-o", str(path), "--store", store, cwd=tmp_path).returncode
            == 0
        )
        frame = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
        assert len(frame) == 2 and frame["median_ms"].gt(0).all()
    report = run_cli("report", "cli", "--store", store, "-o", str(tmp_path / "rep"), cwd=tmp_path)
    assert report.returncode == 0 and (tmp_path / "rep" / "report.html").is_file()
    assert run_cli("show", "nope", "--store", store, cwd=tmp_path).returncode == 2
    assert run_cli("export-table", "cli", "--format", "xlsx", "--store", store, cwd=tmp_path).returncode == 2
