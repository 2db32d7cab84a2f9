"""TFLite export: fp32 and every int8 recipe on every CNN block, artifact facts, fidelity, failures as records."""

from pathlib import Path

import numpy as np
import pytest
import torch

from hwbench.blocks import block_names
from hwbench.export.artifacts import ArtifactStore
from hwbench.export.int8_recipes import RECIPES
from hwbench.export.job import run_export
from hwbench.models import build_model
from hwbench.runners.tflite import TfliteOptions, TfliteSession
from tests.export.test_exporters import tiny_spec

pytestmark = pytest.mark.export


def export(root: Path, block: str, precision: str, options: dict, context: dict | None = None) -> dict:
    job = {
        "spec_json": tiny_spec(block).canonical_json,
        "format": "tflite",
        "precision": precision,
        "options": options,
        "artifact_dir": str(root),
    }
    if context:
        job["context"] = context
    return run_export(job)


def path_of(root: Path, result: dict) -> str:
    return str(ArtifactStore(root).path(result["artifact_hash"], ".tflite"))


@pytest.fixture(scope="module")
def fp32(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    """The fp32 .tflite of each tiny block network (converted once for the module)."""
    root = tmp_path_factory.mktemp("tflite")
    out = {}
    for block in block_names("cnn"):
        result = export(root, block, "fp32", {})
        assert result["status"] == "ok", result.get("error")
        out[block] = (root, result)
    return out


@pytest.mark.parametrize("block", block_names("cnn"))
def test_fp32_facts(block: str, fp32: dict) -> None:
    _, result = fp32[block]
    info = result["info_json"]
    assert result["parity_ok"] and result["max_rel_err"] < 1e-4
    assert info["converter"] == "litert-torch" and info["convert_seconds"] > 0
    assert info["fully_integer"] is False and info["tensor_types"]["FLOAT32"] > 0
    assert info["inputs"][0]["dtype"] == "float32" and list(info["inputs"][0]["shape"]) == [1, 3, 32, 32]
    delegation = info["delegation"]
    assert (
        delegation["ops"] == info["n_ops"]
        and delegation["delegated"] + sum(delegation["fallback"].values()) == (delegation["ops"])
    )
    assert "CONV_2D" in result["ops_json"]


@pytest.mark.parametrize("block", block_names("cnn"))
def test_full_int8_from_fp32(tmp_path: Path, block: str, fp32: dict) -> None:
    root, base = fp32[block]
    context = {"base_path": path_of(root, base), "base_export_key": "k", "base_seconds": 1.5}
    result = export(tmp_path, block, "int8", {"recipe": "full_int8", "calibration_samples": 8}, context)
    assert result["status"] == "ok", result.get("error")
    info, parity = result["info_json"], result["info_json"]["parity"]
    assert info["fp32_reused"] and info["convert_seconds"] == 1.5 and info["base_export_key"] == "k"
    assert result["export_seconds"] == pytest.approx(info["quantize_seconds"])
    assert info["fully_integer"] is True and set(info["tensor_types"]) <= {"INT8", "INT32"}
    assert info["calibration"]["samples"] == 8 and "synthetic" in info["calibration"]["label"]
    assert result["parity_ok"] is None  # quantization error is measured, not judged
    assert 0.0 <= parity["int8_top1_agreement"] <= 1.0 and parity["fidelity_samples"] == 32
    assert parity["int8_cosine"] > 0.9  # a broken scale or zero point gives ~0

    # The runner quantizes float inputs itself and returns float outputs close to PyTorch's.
    session = TfliteSession(path_of(tmp_path, result), 1, TfliteOptions())
    [spec] = session.inputs()
    assert spec.dtype == "int8" and spec.scale and spec.zero_point is not None
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32), dtype=np.float32)
    [got] = session.run([x])
    with torch.no_grad():
        ref = build_model(tiny_spec(block))(torch.from_numpy(x)).numpy()
    cosine = float(got.ravel() @ ref.ravel() / (np.linalg.norm(got) * np.linalg.norm(ref)))
    assert got.dtype == np.float32 and cosine > 0.9


@pytest.mark.parametrize("recipe", RECIPES.names())
def test_every_recipe(tmp_path: Path, recipe: str, fp32: dict) -> None:
    root, base = fp32["mbconv_se"]
    result = export(tmp_path, "mbconv_se", "int8", {"recipe": recipe}, {"base_path": path_of(root, base)})
    assert result["status"] == "ok", result.get("error")
    info = result["info_json"]
    assert info["recipe"] == recipe
    assert ("calibration" in info) == RECIPES.get(recipe).calibrated
    assert info["fully_integer"] is (recipe == "full_int8")
    assert info["inputs"][0]["dtype"] == ("int8" if recipe == "full_int8" else "float32")
    assert info["parity"]["int8_cosine"] > 0.9
    assert path_of(tmp_path, result) != path_of(root, base)  # a different artifact from the fp32 file


def test_int8_without_a_base_converts_itself(tmp_path: Path) -> None:
    result = export(tmp_path, "mbconv", "int8", {"recipe": "mixed_int8", "calibration_samples": 4})
    assert result["status"] == "ok", result.get("error")
    info = result["info_json"]
    assert info["fp32_reused"] is False and info["convert_seconds"] > 0
    assert result["export_seconds"] == pytest.approx(info["convert_seconds"] + info["quantize_seconds"])


def test_calibration_changes_the_artifact(tmp_path: Path, fp32: dict) -> None:
    root, base = fp32["mbconv"]
    context = {"base_path": path_of(root, base)}
    results = [
        run_export(
            {
                "spec_json": tiny_spec("mbconv").canonical_json,
                "format": "tflite",
                "precision": "int8",
                "options": {"recipe": "full_int8", "calibration_samples": 4},
                "calibration": {"source": "synthetic", "seed": seed},
                "context": context,
                "artifact_dir": str(tmp_path),
            }
        )
        for seed in (0, 1)
    ]
    assert [r["status"] for r in results] == ["ok", "ok"]
    assert results[0]["artifact_hash"] != results[1]["artifact_hash"]
    assert results[1]["info_json"]["calibration"]["seed"] == 1


def test_unconvertible_model_is_a_readable_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sort lowers to an op LiteRT cannot run: the export fails with that reason, not a crash."""

    class Sorts(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sort(x.flatten(1), dim=1).values[:, :10]

    monkeypatch.setattr("hwbench.models.build_model", lambda spec: Sorts().eval())
    result = export(tmp_path, "mbconv", "fp32", {})
    assert result["status"] == "error"
    assert result["error"].startswith("ValueError: ") and "STABLEHLO_SORT" in result["error"]


def test_unknown_calibration_source_is_a_record(tmp_path: Path, fp32: dict) -> None:
    root, base = fp32["mbconv"]
    result = run_export(
        {
            "spec_json": tiny_spec("mbconv").canonical_json,
            "format": "tflite",
            "precision": "int8",
            "options": {"recipe": "full_int8"},
            "calibration": {"source": "imagenet"},
            "context": {"base_path": path_of(root, base)},
            "artifact_dir": str(tmp_path),
        }
    )
    assert result["status"] == "error" and "calibration source 'imagenet' is not supported" in result["error"]


def test_truncated_tflite_fails_inspection(tmp_path: Path, fp32: dict) -> None:
    from hwbench.export.tflite import inspect_tflite

    root, base = fp32["convnext"]
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(Path(path_of(root, base)).read_bytes()[:2000])
    with pytest.raises(ValueError, match="not a valid Flatbuffer"):
        inspect_tflite(str(bad))
