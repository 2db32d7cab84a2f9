"""Sweeps with TFLite and OpenVINO targets: int8 reuses the fp32 conversion, facts reach the table,
corrupted .tflite cache entries are rebuilt, a missing runtime is a recorded error."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwbench.analysis.table import results_frame
from hwbench.export.artifacts import ArtifactStore
from hwbench.pipeline import SweepRequest, run_sweep
from hwbench.store import Store
from tests.conftest import ROOT, run_cli, write_target

TFLITE_FP32 = "{format: tflite, precision: fp32}"
TFLITE_INT8 = "{format: tflite, precision: int8, recipe: full_int8, calibration_samples: 8, fidelity_samples: 8}"
TFLITE_MIXED = "{format: tflite, precision: int8, recipe: mixed_int8, calibration_samples: 8, fidelity_samples: 8}"


def request(tmp_path: Path, spaces: list[Path], targets: list[Path], **kw: object) -> SweepRequest:
    return SweepRequest(
        name="b", spaces=spaces, targets=targets, n=2, seed=0, store=tmp_path / "r" / "s.sqlite", report=False, **kw
    )


def exports(store_path: Path) -> dict[str, dict]:
    store = Store(store_path)
    rows = {r["export_key"]: dict(r) for r in store.query("SELECT * FROM exports")}
    store.close()
    return rows


def test_int8_reuses_fp32_and_facts_reach_the_table(tmp_path: Path, tiny_spaces: dict) -> None:
    base = tmp_path / "targets"
    int8 = write_target(base, "t-int8", "tflite", TFLITE_INT8)
    req = request(tmp_path, [tiny_spaces["convnext"]], [int8])
    # Only int8 is asked for: the fp32 conversion comes along once per network and is reused.
    assert run_sweep(req) == {"archs": 2, "exports": 4, "measurements": 2}
    rows = exports(req.store).values()
    fp32 = {r["export_key"] for r in rows if json.loads(r["profile_json"])["precision"] == "fp32"}
    int8_rows = [r for r in rows if json.loads(r["profile_json"])["precision"] == "int8"]
    assert len(fp32) == 2 and all(r["status"] == "ok" for r in rows)
    for row in int8_rows:
        info = json.loads(row["info_json"])
        assert info["fp32_reused"] and info["base_export_key"] in fp32 and info["convert_seconds"] > 0
        assert json.loads(row["profile_json"])["calibration"] == {"source": "synthetic", "seed": 0}

    # Adding the fp32 and mixed targets converts nothing again with litert-torch.
    targets = [
        int8,
        write_target(base, "t-fp32", "tflite", TFLITE_FP32),
        write_target(base, "t-mix", "tflite", TFLITE_MIXED),
    ]
    assert run_sweep(request(tmp_path, [tiny_spaces["convnext"]], targets)) == {
        "archs": 2,
        "exports": 2,
        "measurements": 4,
    }
    frame = results_frame(Store(req.store), ["b"]).set_index("target")
    assert set(frame["status"]) == {"ok"}
    assert (frame.loc["t-int8", "fully_integer"] == True).all()  # noqa: E712 - object column
    assert (frame.loc["t-fp32", "fully_integer"] == False).all()  # noqa: E712
    assert frame.loc["t-int8", "int8_top1_agreement"].between(0, 1).all()
    assert (frame.loc["t-mix", "int8_cosine"] > 0.9).all() and (frame.loc["t-mix", "int8_recipe"] == "mixed_int8").all()
    assert frame.loc["t-fp32", "int8_cosine"].isna().all() and frame.loc["t-fp32", "convert_seconds"].gt(0).all()
    assert (frame["delegated_ops"] + frame["fallback_ops"] > 0).all() and (
        frame["interpreter"] == "ai_edge_litert"
    ).all()
    assert frame.loc["t-int8", "calibration"].str.startswith("synthetic").all()
    shown = run_cli("show", "b", "--store", str(req.store), cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.count("fully int") == 2 and "int8 top1" in shown.stdout
    assert "XNNPACK" in shown.stdout


@pytest.mark.extended  # the default suite rebuilds a corrupted ONNX artifact (tests/pipeline/test_sweep.py)
def test_corrupted_tflite_is_rebuilt(tmp_path: Path, tiny_spaces: dict) -> None:
    base = tmp_path / "targets"
    targets = [write_target(base, "t-fp32", "tflite", TFLITE_FP32), write_target(base, "t-int8", "tflite", TFLITE_INT8)]
    req = request(tmp_path, [tiny_spaces["mbconv"]], targets)
    run_sweep(req)
    before = exports(req.store)
    by_precision = {json.loads(r["profile_json"])["precision"]: r["artifact_hash"] for r in before.values()}
    artifacts = ArtifactStore(req.artifact_dir)
    fp32_file, int8_file = (artifacts.path(by_precision[p], ".tflite") for p in ("fp32", "int8"))
    fp32_file.write_bytes(fp32_file.read_bytes()[:100])  # truncated
    data = bytearray(int8_file.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped weight byte: loads fine, caught only by the hash
    int8_file.write_bytes(bytes(data))

    assert run_sweep(req)["exports"] == 2  # exactly the two damaged artifacts, nothing else
    after = exports(req.store)
    assert {k: r["artifact_hash"] for k, r in after.items()} == {k: r["artifact_hash"] for k, r in before.items()}
    assert len(fp32_file.read_bytes()) > 100 and bytes(data) != int8_file.read_bytes()
    assert set(results_frame(Store(req.store), ["b"])["status"]) == {"ok"}


def test_hung_conversion_is_killed_and_recorded(tmp_path: Path, tiny_spaces: dict) -> None:
    target = write_target(tmp_path / "targets", "t-int8", "tflite", TFLITE_INT8)
    req = request(tmp_path, [tiny_spaces["mbconv"]], [target], export_timeout=0.5)
    assert run_sweep(req)["exports"] == 4
    frame = results_frame(Store(req.store), ["b"])
    assert list(frame["status"]) == ["export_error"] * 2
    # The int8 export never ran: its fp32 base timed out, and it says so.
    assert frame["error"].str.contains("fp32 export it starts from failed: timed out").all()


def test_missing_runtimes_are_recorded_errors(tmp_path: Path, tiny_spaces: dict) -> None:
    """Without openvino and LiteRT installed the sweep still runs: those targets get readable errors."""
    blocker = tmp_path / "blocked"
    for package in ("openvino", "ai_edge_litert", "tflite_runtime", "litert_torch"):
        (blocker / package).mkdir(parents=True)
        (blocker / package / "__init__.py").write_text(f"raise ImportError('{package} hidden for this test')\n")
    base = tmp_path / "targets"
    targets = [
        write_target(base, "t-ort", "onnxruntime", "{format: onnx}"),
        write_target(base, "t-ov", "openvino", "{format: onnx}"),
        write_target(base, "t-tfl", "tflite", TFLITE_FP32),
    ]
    args = ["sweep", "--name", "b", "--n", "1", "--store", str(tmp_path / "s.sqlite"), "--no-report"]
    args += ["--space", str(tiny_spaces["mbconv"])] + [a for t in targets for a in ("--target", str(t))]
    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-m", "hwbench", *args], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    frame = results_frame(Store(tmp_path / "s.sqlite"), ["b"]).set_index("target")
    assert frame.loc["t-ort", "status"] == "ok"
    assert frame.loc["t-ov", "status"] == "measure_error"
    assert frame.loc["t-ov", "error"].startswith("RuntimeMissingError: openvino is not installed")
    assert "pip install 'hwbench[openvino]'" in frame.loc["t-ov", "error"]
    assert frame.loc["t-tfl", "status"] == "export_error"
    assert frame.loc["t-tfl", "error"].startswith("RuntimeMissingError: litert_torch is not installed")
