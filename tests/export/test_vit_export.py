"""Every ViT block in every token form exports to ONNX, passes parity, and records the form it uses;
dynamic forms follow the image in onnxruntime (one file, different token counts)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from hwbench.blocks import block_names, get_block
from hwbench.export.job import run_export
from hwbench.models import build_model
from hwbench.models.vit_deploy import prepare_vit
from tests.vit_helpers import REDUCING, images, tiny_spec

pytestmark = pytest.mark.export

CASES = [(b, f) for b in block_names("vit") for f in get_block(b).token_forms]


def export(tmp_path: Path, block: str, form: str, fmt: str = "onnx") -> dict:
    spec = tiny_spec(
        block, depth=2, **({**REDUCING[block], "skip_first": 1} if block == "vit_mlp_prune" else REDUCING[block])
    )
    job = {
        "spec_json": spec.canonical_json,
        "format": fmt,
        "precision": "fp32",
        "options": {},
        "artifact_dir": str(tmp_path),
    }
    return {"spec": spec, **run_export({**job, "token_form": form})}


@pytest.mark.parametrize(("block", "form"), CASES)
def test_onnx_export_parity_and_recorded_form(tmp_path: Path, block: str, form: str) -> None:
    import onnxruntime as ort

    result = export(tmp_path, block, form)
    assert result["status"] == "ok", result.get("error")
    assert result["parity_ok"] and result["max_abs_err"] < 1e-5
    info = result["info_json"]
    assert info["token_form"] == form
    assert ("capacities" in info) == (form == "fixed_count")
    if form == "topk":
        assert "TopK" in result["ops_json"]
    if form == "dynamic":
        assert "NonZero" in result["ops_json"]
    if form in ("sort_free", "fixed_count", "mask"):
        assert not {"TopK", "NonZero", "Sort"} & set(result["ops_json"])
    # The same prepared model in PyTorch, against the artifact on images whose token counts differ.
    spec = result["spec"]
    model = build_model(spec)
    prepare_vit(model, spec, "onnx", form)
    path = tmp_path / result["artifact_hash"][:2] / f"{result['artifact_hash']}.onnx"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.cat([images(1, seed=7), torch.zeros(1, 3, 32, 32), torch.linspace(-2, 2, 32).expand(1, 3, 32, 32)])
    counts = set()
    for i in range(x.shape[0]):
        with torch.no_grad():
            ref = model(x[i : i + 1]).numpy()
            counts.add(tuple(int(m.sum()) for m in model.forward_tokens(x[i : i + 1], record=True).log))
        got = session.run(None, {session.get_inputs()[0].name: x[i : i + 1].numpy()})[0]
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)
    if form == "dynamic":
        assert len(counts) > 1  # the one file ran at several token counts


def test_a_form_the_block_lacks_is_an_export_error(tmp_path: Path) -> None:
    result = export(tmp_path, "vit_tome", "dynamic")
    assert result["status"] == "error"
    assert "block 'vit_tome' has no token form 'dynamic'; it has topk, sort_free" in result["error"]


def test_a_failed_conversion_names_the_forms_operators(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A converter that cannot handle a form's operators leaves an error record that names them."""
    from hwbench.export import EXPORTERS, get_exporter

    def refuse(*args: object) -> dict:
        raise RuntimeError("converter refused the graph")

    monkeypatch.setitem(EXPORTERS._items, "onnx", dataclasses.replace(get_exporter("onnx"), export=refuse))
    result = export(tmp_path, "vit_ltmp", "dynamic")
    assert result["status"] == "error"
    assert result["error"].endswith("[token form dynamic uses NonZero: a data-dependent token count]")
    assert result["info_json"]["token_form"] == "dynamic"


@pytest.mark.parametrize("block", block_names("vit"))
def test_pytorch_programs_take_the_dynamic_forms(tmp_path: Path, block: str) -> None:
    """torch.export handles top-k and data-dependent counts, so `auto` keeps them for the torch runner."""
    result = export(tmp_path, block, "auto", fmt="torch")
    assert result["status"] == "ok", result.get("error")
    assert result["parity_ok"]
    assert result["info_json"]["token_form"] == {"vit": "dense", "vit_tome": "topk"}.get(block, "dynamic")
