"""The CLI as a user meets it: listings, bad input (one line, exit 2, no traceback), build, show, export, report."""

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, run_cli


def test_spaces_and_targets_list_every_file() -> None:
    spaces = run_cli("spaces", cwd=ROOT)
    assert spaces.returncode == 0
    for name in ("mbconv", "mbconv_se", "fused_mbconv", "resnet_bottleneck", "convnext", "fixed/mobilenet_v2"):
        assert name in spaces.stdout
    assert "macros" not in spaces.stdout
    targets = run_cli("targets", cwd=ROOT)
    for name in ("cpu-onnxruntime-1t", "cpu-onnxruntime-2t", "cpu-torch-1t"):
        assert name in targets.stdout


def test_build_prints_complexity() -> None:
    out = run_cli("build", "design_spaces/fixed/mobilenet_v2.yaml", cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "MACs 300.8 M" in out.stdout and "params 3.505 M" in out.stdout and "activations" in out.stdout


def test_build_json_from_a_space() -> None:
    import json

    out = run_cli("build", "design_spaces/convnext.yaml", "--json", "--seed", "3", cwd=ROOT)
    data = json.loads(out.stdout)
    assert data["arch"]["block"] == "convnext" and data["macs"] > 0 and len(data["arch_id"]) == 16


BAD_INPUT = [
    (
        "space.yaml",
        "name: x\nmacro: macros/tiny.yaml\nblock: mbconv\nblock_params: {kernel: [3, 5\n",
        r"space.yaml: line \d+, column \d+: malformed YAML",
    ),
    (
        "space.yaml",
        "name: x\nmacro: macros/tiny.yaml\nblock: mbconv\nblok_params: {}\n",
        r"space.yaml: blok_params: unknown key \(did you mean 'block_params'\?\)",
    ),
    (
        "space.yaml",
        "name: x\nmacro: macros/tiny.yaml\nblock: mbcnv\n",
        r"space.yaml: block: unknown cnn block 'mbcnv' \(did you mean 'mbconv'\?\)",
    ),
    (
        "space.yaml",
        "name: x\nmacro: macros/tiny.yaml\nblock: mbconv\nblock_params: {kernel: {choice: [3, 4]}}\n",
        r"space.yaml: block_params.kernel: .*kernel must be odd.*got 4",
    ),
    (
        "space.yaml",
        "name: x\nmacro: macros/tiny.yaml\nblock: mbconv\nblock_params: {expansion: {choice: [two]}}\n",
        r"space.yaml: block_params.expansion: .*got 'two'",
    ),
    (
        "space.yaml",
        "name: x\nmacro: macros/nope.yaml\nblock: mbconv\n",
        r"space.yaml: macro: macro file 'macros/nope.yaml' not found",
    ),
    (
        "target.yaml",
        "runner: onnxruntime\nthreads: one\nexport: {format: onnx}\n",
        r"target.yaml: threads: .*got 'one'",
    ),
    (
        "target.yaml",
        "runner: onnxrt\nthreads: 1\nexport: {format: onnx}\n",
        r"target.yaml: runner: unknown runner 'onnxrt' \(did you mean 'onnxruntime'\?\)",
    ),
    (
        "target.yaml",
        "runner: onnxruntime\nthreads: 1\nexport: {format: onnx, opset: 9}\n",
        r"target.yaml: export.opset",
    ),
    (
        "target.yaml",
        "runner: onnxruntime\nthreads: 1\nexport: {format: torch}\n",
        r"runs 'onnx' artifacts, not 'torch'",
    ),
    (
        "target.yaml",
        "runner: onnxruntime\nthreads: 1\nexport: {format: onnx}\nrunner_options: {spin: true}\n",
        r"target.yaml: runner_options.spin: unknown key",
    ),
    (
        "target.yaml",
        "runner: onnxruntime\nthreads: 1\nexport: {format: onnx}\nmeasurement: {min_runs: 50, max_runs: 10}\n",
        r"target.yaml: measurement: .*min_runs 50 is above max_runs 10",
    ),
]


@pytest.mark.parametrize(("kind", "text", "message"), BAD_INPUT, ids=[m[:40] for _, _, m in BAD_INPUT])
def test_bad_input_one_line_exit_2(tmp_path: Path, tiny_spaces: dict, kind: str, text: str, message: str) -> None:
    import re

    base = tiny_spaces["mbconv"].parent
    store = tmp_path / "s.sqlite"
    space, target = tiny_spaces["mbconv"], ROOT / "targets" / "cpu-onnxruntime-1t.yaml"
    bad = base / kind
    bad.write_text(text)
    if kind == "space.yaml":
        space = bad
    else:
        target = bad
    out = run_cli("sweep", "--space", str(space), "--target", str(target), "--store", str(store), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not store.exists()  # validation happens before the store is opened


def test_missing_and_unknown_files(tmp_path: Path) -> None:
    out = run_cli("sweep", "--space", "mbconf", cwd=ROOT)
    assert out.returncode == 2 and "did you mean 'mbconv'" in out.stderr
    out = run_cli("build", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert out.returncode == 2 and "nope.yaml: file not found" in out.stderr


def test_infeasible_constraint_exit_2(tmp_path: Path, tiny_spaces: dict) -> None:
    macro = tiny_spaces["mbconv"].parent / "macros" / "tiny.yaml"
    macro.write_text(macro.read_text().replace("macs: {min: 0, max: 5M}", "macs: {max: 1k}").replace("200", "20"))
    out = run_cli("sweep", "--space", str(tiny_spaces["mbconv"]), "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)
    assert out.returncode == 2 and "constraints: found 0 of 15 networks" in out.stderr  # default --n 15


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
        "--no-train",  # latency only (training through the CLI: tests/test_cli_accuracy.py)
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
