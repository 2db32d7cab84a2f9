"""Detectors (two outputs: boxes, scores) export to every format with parity over each output and int8 fidelity."""

from pathlib import Path

import numpy as np
import pytest
import torch

from hwbench.export import get_exporter
from hwbench.export.artifacts import ArtifactStore
from hwbench.export.job import run_export
from hwbench.export.onnx import compare_all, compare_outputs
from hwbench.export.tflite import fidelity, fidelity_outputs
from hwbench.models import build_model
from hwbench.space.archspec import ArchSpec
from hwbench.space.design_space import load_space
from hwbench.space.sampling import sample_space
from tests.conftest import TINY_MACRO, TINY_SPACE

pytestmark = pytest.mark.export

CLASSES = 3  # not 4, so a boxes output can never pass for a scores output by its shape
TINY_DET = """\
name: det_tiny_{head}
backbone: tiny_mbconv.yaml
detector:
  resolution: 32
  num_classes: {classes}
  head: {{type: {head}, width: 8, depth: 1, levels: 2, extra_levels: 1}}
  anchors: {{preset: default, scale: 0.5}}
"""
HEADS = ["ssdlite", "retinanet_lite"]


def tiny_detector(base: Path, head: str) -> ArchSpec:
    """One detector over the conftest's tiny mbconv space (input 32 px, strides 4, 8, 16; 336 boxes)."""
    (base / "macros").mkdir(parents=True, exist_ok=True)
    (base / "macros" / "tiny.yaml").write_text(TINY_MACRO)
    (base / "tiny_mbconv.yaml").write_text(TINY_SPACE.format(name="tiny_mbconv", block="mbconv"))
    path = base / f"det_tiny_{head}.yaml"
    path.write_text(TINY_DET.format(head=head, classes=CLASSES))
    return sample_space(load_space(path), 1, seed=0)[0].spec


def export(
    root: Path,
    spec: ArchSpec,
    fmt: str,
    precision: str = "fp32",
    options: dict | None = None,
    weights: str | None = None,
) -> dict:
    """Export through the job a worker runs (with `weights` when given); the result record."""
    job = {
        "spec_json": spec.canonical_json,
        "format": fmt,
        "precision": precision,
        "options": options if options is not None else get_exporter(fmt).options().model_dump(),
        "artifact_dir": str(root),
        **({"weights": weights} if weights else {}),
    }
    result = run_export(job)
    assert result["status"] == "ok", result.get("error")
    return result


def artifact(root: Path, result: dict) -> str:
    return str(ArtifactStore(root).path(result["artifact_hash"], result["extension"]))


@pytest.fixture(scope="module", params=HEADS)
def det(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ArchSpec]:
    """(artifact folder, spec) of a tiny detector with each head type."""
    base = tmp_path_factory.mktemp(f"det_{request.param}")
    return base, tiny_detector(base / "design_spaces", request.param)


@pytest.mark.parametrize("fmt", ["onnx", "torch", "tflite"])
def test_fp32_parity_over_boxes_and_scores(det: tuple[Path, ArchSpec], fmt: str) -> None:
    root, spec = det
    n = int(build_model(spec).anchors.shape[0])
    assert n == (64 + 16 + 4) * 4  # strides 4, 8, 16 on 32 px; the default preset's 4 anchors per cell
    result = export(root, spec, fmt)
    parity = result["info_json"]["parity"]
    outputs = parity["outputs"]
    assert [o["shape"] for o in outputs] == [[1, n, 4], [1, n, CLASSES]]  # model order: boxes, then scores
    assert result["parity_ok"] is True and all(o["parity_ok"] for o in outputs)
    assert result["max_abs_err"] == max(o["max_abs_err"] for o in outputs)
    assert result["max_rel_err"] == max(o["max_rel_err"] for o in outputs) < 1e-4


def test_full_int8_fidelity_and_facts(det: tuple[Path, ArchSpec]) -> None:
    root, spec = det
    job = {"recipe": "full_int8", "calibration_samples": 8}
    result = export(root, spec, "tflite", "int8", job, weights=spread_weights(root, spec))
    info, parity = result["info_json"], result["info_json"]["parity"]
    assert result["parity_ok"] is None and "int8_top1_agreement" not in parity  # not a classifier
    boxes, scores = parity["outputs"]
    assert boxes["shape"][1] == 4 and scores["shape"][1] == CLASSES and parity["fidelity_samples"] == 32
    # int8 steps over the ~60 px box range are ~0.25 px (seen: 0.07 px mean); a wrong scale or zero point is off by
    # tens of px. Scores: steps of 1 / 256 (seen: 0.001 mean, cosine 0.994 for RetinaNet-lite's small scores).
    assert boxes["int8_cosine"] > 0.999 and boxes["int8_mean_abs_err"] < 0.25
    assert scores["int8_cosine"] > 0.99 and scores["int8_mean_abs_err"] < 0.005
    assert parity["int8_cosine"] == min(boxes["int8_cosine"], scores["int8_cosine"])
    assert result["max_abs_err"] == max(boxes["max_abs_err"], scores["max_abs_err"])
    # The fully-integer check against the interpreter's own tensor types (box decoding's exp stays float).
    assert info["fully_integer"] is (float_tensors(artifact(root, result)) == 0)
    assert info["non_integer_tensors"] == float_tensors(artifact(root, result))
    delegation = info["delegation"]
    assert delegation["ops"] == info["n_ops"] and delegation["partitions"] >= 1
    assert delegation["delegated"] + sum(delegation["fallback"].values()) == delegation["ops"]


def spread_weights(root: Path, spec: ArchSpec) -> str:
    """Seeded weights moved off the head's initialisation, as trained ones are; the path of their file.

    At RetinaNet-lite's prior init every class logit is -4.595 on near-constant features; static int8 then needs
    a bias of -4.595 / (input scale x weight scale) < -2^31 on the extra level's class predictor, which saturates
    int32 and turns one score into 0.5 (reported). And an untrained SSD-lite's int8 scores are all 1 / (C + 1).
    """
    model = build_model(spec)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            # At least 0.1: the predictors start at std 0.01 and their biases (and BN scales) all equal.
            spread = max(float(p.std()) if p.numel() > 1 else 0.0, 0.2) * 0.5
            p.add_(torch.randn(p.shape, generator=generator) * spread)
    path = root / f"spread_{spec.arch_id}.pt"
    torch.save(model.state_dict(), path)
    return str(path)


def float_tensors(path: str) -> int:
    """Tensors of a .tflite that are not int8/uint8/int32, counted by LiteRT's interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    details = Interpreter(model_path=path).get_tensor_details()
    return sum(np.dtype(d["dtype"]).name not in ("int8", "uint8", "int32") for d in details)


def test_compare_all_single_output_is_compare_outputs() -> None:
    ref = np.array([[1.0, -2.0, 3.0]])
    got = ref + np.array([[0.0, 1e-3, 0.0]])
    assert compare_all([ref], [got]) == compare_outputs(ref, got)


def test_compare_all_worst_over_outputs_by_hand() -> None:
    boxes = np.array([[[0.0, 0.0, 10.0, 20.0]]])
    scores = np.array([[[0.5, 0.25]]])
    out = compare_all([boxes, scores], [boxes + np.array([0, 0, 0, 2e-4]), scores + np.array([0, 0.05])])
    # boxes: 2e-4 / 20 = 1e-5 of scale (ok); scores: 0.05 / 0.5 = 0.1 (a defect).
    assert [o["parity_ok"] for o in out["outputs"]] == [True, False] and out["parity_ok"] is False
    assert out["max_abs_err"] == pytest.approx(0.05) and out["max_rel_err"] == pytest.approx(0.1)
    assert out["outputs"][0]["max_rel_err"] == pytest.approx(1e-5) and out["outputs"][1]["shape"] == [1, 1, 2]
    shape = compare_all([boxes, scores], [boxes, scores[..., :1]])
    assert shape["parity_ok"] is False and shape["max_abs_err"] is None and shape["max_rel_err"] is None
    count = compare_all([boxes, scores], [boxes])
    assert count == {"parity_ok": False, "max_abs_err": None, "note": "1 outputs != 2"}


def test_fidelity_outputs_by_hand() -> None:
    ref = [np.array([[3.0, 4.0], [1.0, 0.0]]), np.array([[1.0], [2.0]])]
    got = [np.array([[4.0, 3.0], [1.0, 0.0]]), np.array([[1.5], [2.0]])]
    out = fidelity_outputs(ref, got)
    first, second = out["outputs"]
    # Sample 1: (12 + 12) / 25 = 0.96, sample 2: 1 -> mean 0.98; mean |diff| = (1 + 1 + 0 + 0) / 4.
    assert first["int8_cosine"] == pytest.approx(0.98) and first["int8_mean_abs_err"] == pytest.approx(0.5)
    assert first["max_abs_err"] == 1.0 and first["max_rel_err"] == pytest.approx(0.25)
    assert second["int8_cosine"] == pytest.approx(1.0) and second["int8_mean_abs_err"] == pytest.approx(0.25)
    assert out["int8_cosine"] == pytest.approx(0.98) and out["max_abs_err"] == 1.0
    assert out["max_rel_err"] == pytest.approx(0.25) and "int8_top1_agreement" not in out
    with pytest.raises(ValueError, match="int8 output 1 has shape"):
        fidelity_outputs(ref, [got[0], got[1][:1]])


def test_classifier_fidelity_keys_unchanged() -> None:
    ref = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 0.5]])
    got = np.array([[1.9, 1.1, 0.0], [0.0, 0.4, 0.5]])  # second sample's top-1 flips
    out = fidelity(ref, got)
    assert set(out) == {"parity_ok", "max_abs_err", "max_rel_err", "int8_top1_agreement", "int8_cosine"}
    assert out["int8_top1_agreement"] == 0.5 and out["max_abs_err"] == pytest.approx(0.6)
