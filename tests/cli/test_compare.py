"""`hwbench compare-sweeps`: two stores, artifacts identical, identical in content, different or missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwbench.export.artifacts import ArtifactStore, file_hash
from hwbench.export.canonical import canonicalize_onnx
from hwbench.store import Store
from tests.conftest import run_cli
from tests.export.test_canonical import _onnx
from tests.report.fill import add_result


def _put(folder: Path, source: Path) -> str:
    digest = file_hash(source)
    path = ArtifactStore(folder).path(digest, ".onnx")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(source.read_bytes())
    return digest


def test_compare_two_stores(tmp_path: Path) -> None:
    stores = {side: Store(tmp_path / side / "hwbench.sqlite") for side in "ab"}
    for side, latencies in (("a", [1.0, 2.0, 3.0, 4.0]), ("b", [1.0, 2.1, 3.3, 4.0])):
        for i, ms in enumerate(latencies):
            prov = {"machine": {"hostname": f"box-{side}", "cpu_model": "cpu"}, "versions": {"onnxruntime": "1"}}
            add_result(stores[side], "demo", {"block": "mbconv", "index": i, "target": "t-ort", "ms": ms}, prov)
    # n1: the same network, B's file still carries a checkout's debugging metadata; n2: other weights;
    # n3: B's artifact file is gone. n0 keeps the same hash on both sides.
    canonical = _onnx(tmp_path / "c.onnx", 1.0, "/home/alice/src")
    canonicalize_onnx(canonical)
    files = {
        "a": [canonical, canonical, canonical],
        "b": [_onnx(tmp_path / "m.onnx", 1.0, "/builds/x"), _onnx(tmp_path / "o.onnx", 2.0, None), None],
    }
    for side in "ab":
        for i, source in enumerate(files[side], start=1):
            digest = _put(tmp_path / side / "artifacts", source) if source else f"gone-{side}-{i}"
            stores[side].db.execute("UPDATE exports SET artifact_hash = ? WHERE arch_id = ?", (digest, f"mbconv-{i}"))
    out = tmp_path / "cmp.json"
    args = ["--store", str(tmp_path / "a" / "hwbench.sqlite"), "--store-b", str(tmp_path / "b" / "hwbench.sqlite")]
    result = run_cli("compare-sweeps", "demo", "demo", *args, "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    identity = {p["arch_id"]: p["identity"] for p in doc["pairs"]}
    assert identity == {
        "mbconv-0": "identical",
        "mbconv-1": "same content",
        "mbconv-2": "different",
        "mbconv-3": "unknown",
    }
    [s] = doc["summary"]
    assert (s["identical"], s["same_content"], s["different"], s["b_in_a"]) == (1, 1, 1, 2)
    assert abs(s["median_ratio"] - 1.025) < 1e-9 and abs(s["median_abs_delta"] - 0.025) < 1e-9
    assert s["spearman"] == 1.0
    assert "same content" in result.stdout and "1/4 (+1 same content)" in result.stdout
    # Two machines on purpose: said once, as a setup difference (versions are the same, so not those).
    assert doc["setup_differences"] == [
        "target t-ort: results (sweeps A, B) come from different machines: box-a | box-b"
    ]
    assert "setup: target t-ort" in result.stdout


def test_unknown_sweep_is_one_line_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "hwbench.sqlite")
    add_result(store, "demo", {"block": "mbconv", "index": 0, "target": "t-ort", "ms": 1.0})
    result = run_cli("compare-sweeps", "demo", "nope", "--store", str(tmp_path / "hwbench.sqlite"), cwd=tmp_path)
    assert result.returncode == 2 and "nope" in result.stderr


def test_compare_warns_when_the_machine_speed_differed_and_shows_both_figures(tmp_path: Path) -> None:
    store = Store(tmp_path / "hwbench.sqlite")
    kind = "onnxruntime:9cc8a5f3822a"
    for sweep, canary, noise in (("a", 0.60, [0.0, 0.0, 0.0, 0.0]), ("b", 0.636, [0.01, -0.01, 0.02, -0.02])):
        for i, d in enumerate(noise):
            ms = (i + 1) * canary * (1 + d)
            row = {"block": "mbconv", "index": i, "target": "t-ort", "ms": ms, "canary_kind": kind}
            add_result(store, sweep, {**row, "canary_ms": canary, "canary_n": 160, "canary_rel_sd": 0.03})
    out = tmp_path / "cmp.json"
    args = ["--store", str(tmp_path / "hwbench.sqlite"), "--json", str(out)]
    result = run_cli("compare-sweeps", "a", "b", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [warning] = [line for line in result.stdout.splitlines() if line.startswith("warning: t-ort")]
    assert "machine's speed differed" in warning and "canary B/A 1.060" in warning
    assert "raw median B/A 1.060, median |Δ| 6.0%" in warning  # the raw figures stay
    assert "canary-normalised (derived): median B/A 1.000, median |Δ| 1.5%" in warning
    assert "canary: t-ort: canary B/A 1.060 (noise tolerance ±1.3%), over 4 of 4 networks" in result.stdout
    [s] = json.loads(out.read_text())["summary"]
    assert s["median_ratio"] == pytest.approx(1.06) and s["median_ratio_canary_norm"] == pytest.approx(1.0)
    assert s["median_abs_delta_canary_norm"] == pytest.approx(0.015) and s["canary_differs"] == 4
    assert json.loads(out.read_text())["machine_speed"][1] == warning
