"""ViT detectors with LTMP (det_vit_ltmp): the restored map is a full grid, thresholds that never fire give the
dense detector, merged and pruned positions hold the documented values, the spaces pair, and export parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hwbench.errors import ConfigError
from hwbench.models import build_model
from hwbench.models.det_vit import ViTDetector
from hwbench.space.archspec import ArchSpec
from hwbench.space.det_vit import dense_detector
from tests.models.test_det_vit import det_spec as vit_det_spec
from tests.models.test_det_vit_tome import images

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
FORMS = ["mask", "fixed_count", "dynamic"]
# Thresholds that never fire (cosine similarity ≤ 1 < 2; importance ≥ 0 > -1) and ones that merge and prune the
# sharpened random network's tokens (importances spread around 1/17).
OFF = {"merge_threshold": 2.0, "prune_threshold": -1.0}
ON = {"merge_threshold": 0.3, "prune_threshold": 0.055, "calibrate": False}
# Seeded weights attend almost uniformly (every importance ~1/17); scaled query-key weights spread them.
SHARPEN = 8.0


def det_spec(depth: int = 3, **params: object) -> ArchSpec:
    """A tiny LTMP detector: 32 px, 4x4 tokens (17 with the class token), as tests/models/test_det_vit.py's."""
    return vit_det_spec("vit_ltmp", depth, **params)


def pair(**params: object) -> tuple[ViTDetector, ViTDetector]:
    """A dense detector and an LTMP one carrying its weights (LTMP adds only its thresholds)."""
    spec = det_spec(**params)
    dense, ltmp = build_model(dense_detector(spec)), build_model(spec)
    with torch.no_grad():
        for block in dense.vit.blocks:
            block.attn.qkv.weight.mul_(SHARPEN)
    missing, unexpected = ltmp.load_state_dict(dense.state_dict(), strict=False)
    assert not unexpected and all("threshold" in k for k in missing)
    return dense.eval(), ltmp.eval()  # type: ignore[return-value]


def in_form(model: ViTDetector, form: str) -> ViTDetector:
    model.set_token_form(form, [17] * 3 if form == "fixed_count" else None)
    return model


@pytest.mark.parametrize("form", FORMS)
def test_thresholds_that_never_fire_equal_dense_exactly(form: str) -> None:
    dense, ltmp = pair(**OFF)
    in_form(ltmp, form)
    x = images(1 if form == "dynamic" else 2)
    with torch.no_grad():
        want, got = dense(x), ltmp(x)
        t = ltmp.forward_tokens(x)
        assert torch.equal(ltmp.backbone_map(x), dense.backbone_map(x))
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert (t.held == 1).all() and torch.equal(t.source[0], torch.arange(1.0, 17.0))  # type: ignore[index]


def test_blocks_off_are_the_dense_blocks() -> None:
    dense, ltmp = pair(**ON)
    ltmp.set_pruning(False)  # the dense phase of training
    x = images()
    with torch.no_grad():
        assert torch.equal(ltmp(x)[1], dense(x)[1])


@pytest.mark.parametrize("form", FORMS)
def test_restored_map_is_full_merged_positions_share_their_token_pruned_keep_their_state(form: str) -> None:
    _, ltmp = pair(**ON)
    in_form(ltmp, form)
    x = images(1 if form == "dynamic" else 2)
    with torch.no_grad():
        t = ltmp.forward_tokens(x)
        grid = ltmp.backbone_map(x)
    assert grid.shape == (x.shape[0], 32, 4, 4)
    cells = grid.flatten(2).transpose(1, 2)  # (B, 16, C), raster order
    final, frozen = ltmp.vit.norm(t.x), ltmp.vit.norm(t.frozen)  # type: ignore[arg-type]
    merged = pruned = 0
    for i in range(x.shape[0]):
        held = t.held[i] > 0  # type: ignore[index]
        source = t.source[i].long()  # type: ignore[index]
        assert torch.allclose(cells[i, held], final[i, source[held]], atol=1e-6)  # held: the token holding it
        assert torch.allclose(cells[i, ~held], frozen[i, ~held], atol=1e-6)  # pruned: its token's state then
        alive = t.mask[i] > 0 if t.mask is not None else torch.ones(t.x.shape[1], dtype=torch.bool)
        for j in torch.nonzero(alive).flatten().tolist()[1:]:  # each alive token holds as many cells as its size
            assert int((source[held] == j).sum()) == int(t.size[i, j])  # type: ignore[index]
        merged += int((t.size[i][alive] > 1).sum())  # type: ignore[index]
        pruned += int((~held).sum())
    assert merged > 0 and pruned > 0  # the thresholds did both


def test_dynamic_restores_the_map_of_the_masked_form() -> None:
    _, ltmp = pair(**ON)
    x = images(1)
    with torch.no_grad():
        want = in_form(ltmp, "mask").backbone_map(x)
        got = in_form(ltmp, "dynamic").backbone_map(x)
    assert torch.allclose(got, want, atol=1e-5)


def test_training_step_has_the_flops_loss_and_reaches_the_thresholds() -> None:
    _, ltmp = pair(**ON)
    ltmp.train()
    cls_logits, box_deltas = ltmp.forward_raw(images(2))
    aux = ltmp.auxiliary_loss()
    (cls_logits.square().mean() + box_deltas.square().mean() + aux).backward()
    assert aux.item() > 0 and all(b.merge_threshold.grad is not None for b in ltmp.token_blocks())  # type: ignore[attr-defined]
    assert ltmp.vit.patch_embed.weight.grad is not None  # through the restored map, side buffer included


def test_spaces_sample_reproducibly_and_pair() -> None:
    from hwbench.space.design_space import load_space
    from hwbench.space.sampling import sample_space

    dense = sample_space(load_space(ROOT / "design_spaces" / "det_vit.yaml"), 3, 7)
    ltmp = sample_space(load_space(ROOT / "design_spaces" / "det_vit_ltmp.yaml"), 3, 7)
    for d, q in zip(dense, ltmp, strict=True):
        assert q.spec.block == "vit_ltmp" and q.spec.arch.pruning is None
        assert dense_detector(q.spec).arch_id == d.spec.arch_id  # same backbone and head as its dense pair


@pytest.mark.parametrize(
    ("change", "key"),
    [({"params": {"flops_target": 1.5}}, "flops_target"), ({"pruning": {"reactivate": True}}, "pruning")],
)
def test_bad_knob_names_its_key(change: dict, key: str) -> None:
    data = det_spec().to_dict()
    data = {**data, **change} if "pruning" in change else {**data, "backbone": {**data["backbone"], **change}}
    with pytest.raises(ConfigError, match=key):
        ArchSpec.from_dict(data)


@pytest.mark.parametrize(("fmt", "form"), [("onnx", "dynamic"), ("tflite", "fixed_count")])
def test_prepare_counts_tokens_per_image(fmt: str, form: str) -> None:
    from hwbench.models.det_vit_deploy import prepare_det_vit

    spec = det_spec(flops_target=0.6)
    model = build_model(spec).eval()
    facts = prepare_det_vit(model, spec, fmt, images=images(3))  # type: ignore[arg-type]
    assert facts["token_form"] == form and len(facts["per_input"]) == 3 and "calibration" in facts
    for p in facts["per_input"]:
        assert len(p["tokens"]) == 3 and p["tokens"][-1] < 17


def export(tmp_path: Path, fmt: str, form: str) -> tuple[dict[str, object], ViTDetector]:
    """Export the LTMP detector with thresholds that merge and prune (as trained weights, so nothing is calibrated);
    the export's own parity compares it to torch on one image. Returns the result and the torch model."""
    from hwbench.export.job import run_export

    _, model = pair(**ON)
    weights = tmp_path / "ltmp.pt"
    torch.save(model.state_dict(), weights)
    spec = det_spec(**ON)
    job = {"spec_json": spec.canonical_json, "format": fmt, "precision": "fp32", "options": {}, "weights": str(weights)}
    result = run_export({**job, "artifact_dir": str(tmp_path), "token_form": form})
    assert result["status"] == "ok", result.get("error")
    assert result["info_json"]["token_form"] == form and result["parity_ok"]
    print(f"{fmt} {form}: max |torch - export| {result['max_abs_err']:.2e}")
    return result, model


@pytest.mark.export
def test_onnx_export_matches_torch(tmp_path: Path) -> None:
    import onnxruntime as ort

    from hwbench.export.artifacts import ArtifactStore
    from hwbench.models.det_vit_deploy import prepare_det_vit

    result, model = export(tmp_path, "onnx", "dynamic")
    path = ArtifactStore(str(tmp_path)).path(result["artifact_hash"], result["extension"])  # type: ignore[arg-type]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    prepare_det_vit(model, det_spec(**ON), "onnx", "dynamic", trained=True)
    pruned = 0
    for seed in (3, 4):  # images beside the parity one: other merges and prunes, other token counts
        x = images(1, seed=seed)
        boxes, scores = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        with torch.no_grad():
            want = model(x)
            pruned += int((model.forward_tokens(x).held == 0).sum())  # type: ignore[union-attr]
        assert np.allclose(boxes, want[0].numpy(), atol=1e-3) and np.allclose(scores, want[1].numpy(), atol=1e-4)
    assert pruned > 0  # the side buffer of pruned tokens is in the graph


@pytest.mark.extended
@pytest.mark.export
def test_litert_export_matches_torch(tmp_path: Path) -> None:
    export(tmp_path, "tflite", "fixed_count")
