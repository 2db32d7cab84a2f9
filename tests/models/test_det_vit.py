"""ViT detectors with dense-task token pruning (SViT): keep ratio 1 equals dense, skipped tokens stay unchanged in
the map, reactivation on/off, the batch-mean ratio loss, the paired spaces, and export parity of every form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from hwbench.blocks.tokens.prune import keep_ratio_loss, refill_discarded
from hwbench.models import build_model
from hwbench.models.det_vit import ViTDetector
from hwbench.space.archspec import ArchSpec
from hwbench.space.det_vit import dense_detector

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
BACKBONE = {"family": "vit", "resolution": 32, "num_classes": 10, "patch": 8, "width": 32, "heads": 2, "mlp_ratio": 2}
PRUNE = {"keep_ratio": 0.7, "groups": 1, "skip_first": 1}


def det_spec(block: str = "vit", depth: int = 3, pruning: dict[str, Any] | None = None, **params: Any) -> ArchSpec:
    """A tiny ViT detector: 32 px, 4x4 tokens, pyramid strides 4/8/16 + one extra level, one anchor per cell."""
    # Only a selector block (vit_mlp_prune) takes pruning knobs; merging blocks (vit_tome, vit_ltmp) have none.
    knobs = {"finetune_epochs": 1, **(pruning or {})} if block == "vit_mlp_prune" else None
    return ArchSpec.from_dict(
        {
            "family": "det_vit",
            "block": block,
            "backbone": {**BACKBONE, "block": block, "depth": depth, "params": params},
            "resolution": 32,
            "num_classes": 10,
            "head": {"type": "ssdlite", "width": 16, "levels": [1, 2, 3], "extra_levels": 1},
            "anchors": {"levels": [[[1.0, 1.0]]] * 4},
            "pruning": knobs,
        }
    )


def pair(pruning: dict[str, Any] | None = None, **params: Any) -> tuple[ViTDetector, ViTDetector]:
    """A dense detector and a pruning one carrying its weights."""
    spec = det_spec("vit_mlp_prune", pruning=pruning, **{**PRUNE, **params})
    dense = build_model(dense_detector(spec))
    pruned = build_model(spec)
    missing, unexpected = pruned.load_state_dict(dense.state_dict(), strict=False)
    assert not unexpected and all("selector" in k for k in missing)
    return dense.eval(), pruned.eval()  # type: ignore[return-value]


def images(n: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def force(model: ViTDetector, keep_logit: float) -> None:
    """Selectors that decide by sign of a fixed keep-minus-skip logit (weights zeroed)."""
    for b in model.token_blocks():
        with torch.no_grad():
            b.selector.fc2.weight.zero_()
            b.selector.fc2.bias.copy_(torch.tensor([keep_logit / 2, -keep_logit / 2]))


def test_keep_everything_equals_dense_in_every_form() -> None:
    dense, pruned = pair()
    force(pruned, 5.0)
    x = images()
    with torch.no_grad():
        want = dense(x)
        for form in ("mask", "fixed_count", "dynamic"):
            pruned.set_token_form(form, [17] * 2 if form == "fixed_count" else None)
            got = [pruned(x[i : i + 1]) for i in range(2)] if form == "dynamic" else [pruned(x)]
            boxes = torch.cat([g[0] for g in got])
            scores = torch.cat([g[1] for g in got])
            assert torch.allclose(boxes, want[0], atol=1e-4) and torch.allclose(scores, want[1], atol=1e-5), form


def test_skipped_tokens_stay_in_the_map_unchanged() -> None:
    _, pruned = pair(skip_first=2)  # block 2 prunes; blocks 0-1 are plain
    force(pruned, -5.0)  # skip every patch token
    x = images(1)
    with torch.no_grad():
        t = pruned.vit.forward_tokens(x)
        before = pruned.vit.embed(x)
        for blk in pruned.vit.blocks[:2]:
            before = blk.run(before)
    assert t.x.shape == before.shape  # every token is still in the map
    assert torch.equal(t.x[:, 1:], before[:, 1:])  # skipped tokens passed through untouched
    assert not torch.equal(t.x[:, 0], before[:, 0])  # the class token was processed
    assert pruned.token_map(t).shape == (1, 32, 4, 4)


def _decisions(model: ViTDetector, x: torch.Tensor, skipped: int) -> list[torch.Tensor]:
    """Keep masks when the first pruning block skips token `skipped` and the second would keep every token."""
    force(model, 5.0)
    first = model.token_blocks()[0]

    def pick(tokens: torch.Tensor) -> torch.Tensor:
        logp = torch.zeros(*tokens.shape[:2], 2)
        logp[..., 1] = -10.0
        logp[:, skipped] = torch.tensor([-10.0, 0.0])
        return logp

    first.selector.forward = pick  # type: ignore[method-assign]
    with torch.no_grad():
        return model.forward_tokens(x, record=True).log


@pytest.mark.parametrize("reactivate", [True, False])
def test_reactivation(reactivate: bool) -> None:
    _, pruned = pair(pruning={"reactivate": reactivate}, skip_first=1)
    log = _decisions(pruned, images(1), skipped=5)
    assert log[0][0, 5] == 0  # skipped at block l
    assert log[1][0, 5] == (1 if reactivate else 0)  # processed again at l + 1 only with reactivation


def test_batch_mean_ratio_loss_lets_images_differ() -> None:
    targets = [0.5]
    differ = torch.tensor([[1.0] + [1.0] * 8 + [1.0] * 8, [1.0] + [0.0] * 16])  # image 0 keeps all, 1 none
    same = torch.tensor([[1.0] + [1.0] * 8 + [0.0] * 8] * 2)  # both keep half
    assert keep_ratio_loss([differ], targets) == pytest.approx(0.0)
    assert keep_ratio_loss([same], targets) == pytest.approx(0.0)
    # The fixed-rate ablation penalises the differing batch, not the uniform one.
    assert keep_ratio_loss([differ], targets, per_sample=True) == pytest.approx(4 * 0.25)
    assert keep_ratio_loss([same], targets, per_sample=True) == pytest.approx(0.0)


def test_discard_refills_from_the_last_kept_token() -> None:
    x = torch.arange(5.0).view(1, 5, 1).expand(1, 5, 2)
    alive = torch.tensor([[0.0, 1.0, 0.0, 0.0, 1.0]])
    out = refill_discarded(x, alive)
    assert out[0, :, 0].tolist() == [1.0, 1.0, 1.0, 1.0, 4.0]  # none before 0: the first kept one (1)


def test_spaces_sample_reproducibly_and_pair() -> None:
    from hwbench.space.design_space import load_space
    from hwbench.space.sampling import sample_space

    dense = load_space(ROOT / "design_spaces" / "det_vit.yaml")
    pruned = load_space(ROOT / "design_spaces" / "det_vit_prune.yaml")
    a = sample_space(dense, 3, 7)
    b = sample_space(dense, 3, 7)
    p = sample_space(pruned, 3, 7)
    assert [s.spec.arch_id for s in a] == [s.spec.arch_id for s in b]
    for d, q in zip(a, p, strict=True):
        assert q.spec.block == "vit_mlp_prune" and q.spec.arch.pruning.reactivate
        assert dense_detector(q.spec).arch_id == d.spec.arch_id  # same backbone and head as its dense pair


def test_training_step_has_a_ratio_loss_and_dense_phase_has_none() -> None:
    _, pruned = pair()
    pruned.train()
    pruned.set_pruning(False)
    pruned.forward_raw(images(2))
    assert pruned.auxiliary_loss().item() == 0.0
    pruned.set_pruning(True)
    pruned.forward_raw(images(2))
    loss = pruned.auxiliary_loss()
    loss.backward()
    assert loss.item() > 0 and pruned.token_blocks()[0].selector.fc1.weight.grad is not None


def sharpen_attention(model: torch.nn.Module, factor: float = 100.0) -> None:
    """Scale every block's query and key weights by `factor`: attention logits spread by ~800 here, as in a trained
    ViT (the digits-det ViT detector's spread up to 3087), so a hidden key can outscore every kept one by far."""
    for blk in model.vit.blocks:  # type: ignore[attr-defined]
        dim = blk.attn.qkv.in_features
        with torch.no_grad():
            blk.attn.qkv.weight[: 2 * dim] *= factor
            blk.attn.qkv.bias[: 2 * dim] *= factor


@pytest.mark.parametrize(
    "knobs",
    [{}, {"keep_pruned": False}, {"reactivate": False}, {"rate": "fixed"}],
    ids=["default", "discard", "no_reactivate", "fixed"],
)
def test_training_step_of_every_variant_is_finite_on_sharp_attention(knobs: dict[str, Any]) -> None:
    """The benchmark's fine-tunes from a trained dense detector went NaN at the first step (masked attention's
    exp overflowed) and the discard variant's refill then indexed with NaN (IndexError): a step must run, finite."""
    _, pruned = pair(pruning=knobs)
    sharpen_attention(pruned)
    pruned.train()
    pruned.set_pruning(True)
    torch.manual_seed(0)
    cls_logits, box_deltas = pruned.forward_raw(images(4))
    kept = [float(k.detach()[:, 1:].mean()) for k in pruned.last_log]
    loss = cls_logits.square().mean() + box_deltas.square().mean() + pruned.auxiliary_loss()
    loss.backward()
    assert torch.isfinite(loss) and 0.0 < min(kept) < 1.0  # some tokens skipped: the masked path ran
    assert all(torch.isfinite(p.grad).all() for p in pruned.parameters() if p.grad is not None)


@pytest.mark.export
@pytest.mark.parametrize("form", ["dynamic", "fixed_count", "mask"])
def test_onnx_export_of_each_form_matches_torch(tmp_path: Path, form: str) -> None:
    import onnxruntime as ort

    from hwbench.export.job import run_export

    spec = det_spec("vit_mlp_prune", **PRUNE)
    job = {"spec_json": spec.canonical_json, "format": "onnx", "precision": "fp32", "options": {}}
    result = run_export({**job, "artifact_dir": str(tmp_path), "token_form": form})
    assert result["status"] == "ok", result.get("error")
    assert result["info_json"]["token_form"] == form and result["parity_ok"]
    assert "same in dense and pruned" in result["info_json"]["attention"]
    from hwbench.export.artifacts import ArtifactStore
    from hwbench.models.det_vit_deploy import prepare_det_vit

    path = ArtifactStore(str(tmp_path)).path(result["artifact_hash"], result["extension"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    per_input = result["info_json"]["per_input"]
    assert all(len(p["tokens"]) == 2 and p["backbone_macs"] < p["macs"] for p in per_input)
    model = build_model(spec)
    prepare_det_vit(model, spec, "onnx", form)  # type: ignore[arg-type]
    for seed in (3, 4):  # a second image: the dynamic graph follows its own token count
        x = images(1, seed=seed)
        boxes, scores = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        with torch.no_grad():
            want = model(x)
        assert np.allclose(boxes, want[0].numpy(), atol=1e-3) and np.allclose(scores, want[1].numpy(), atol=1e-4)


@pytest.mark.export
@pytest.mark.parametrize("knobs", [{"reactivate": False}, {"keep_pruned": False}], ids=["no_reactivate", "discard"])
def test_onnx_dynamic_export_prunes_in_the_ablations(tmp_path: Path, knobs: dict[str, Any]) -> None:
    """Without reactivation and with discarded tokens the exported graph skips tokens too, and matches torch."""
    import onnxruntime as ort

    from hwbench.export.artifacts import ArtifactStore
    from hwbench.export.job import run_export
    from hwbench.models.det_vit_deploy import prepare_det_vit

    spec = det_spec("vit_mlp_prune", pruning=knobs, **{**PRUNE, "groups": 2, "skip_first": 1})
    job = {"spec_json": spec.canonical_json, "format": "onnx", "precision": "fp32", "options": {}}
    result = run_export({**job, "artifact_dir": str(tmp_path), "token_form": "dynamic"})
    assert result["status"] == "ok" and result["parity_ok"], result.get("error")
    tokens = [p["tokens"] for p in result["info_json"]["per_input"]]
    assert all(t[1] <= t[0] for t in tokens)  # a skipped token stays skipped
    # Counted on the images the untrained selectors were calibrated on: targets 0.7, 0.49 of 16 patch tokens.
    kept = (np.asarray(tokens, dtype=float) - 1.0).mean(axis=0) / 16
    assert kept.tolist() == pytest.approx([0.7, 0.49], abs=0.5 / (16 * len(tokens)) + 1e-6)
    path = ArtifactStore(str(tmp_path)).path(result["artifact_hash"], result["extension"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model = build_model(spec)
    prepare_det_vit(model, spec, "onnx", "dynamic")  # type: ignore[arg-type]
    for seed in (3, 4):
        x = images(1, seed=seed)
        boxes, scores = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        with torch.no_grad():
            want = model(x)
        assert np.allclose(boxes, want[0].numpy(), atol=1e-3) and np.allclose(scores, want[1].numpy(), atol=1e-4)


@pytest.mark.extended
@pytest.mark.export
@pytest.mark.parametrize(
    ("block", "form"), [("vit", "dense"), ("vit_mlp_prune", "fixed_count"), ("vit_mlp_prune", "mask")]
)
def test_litert_export_of_static_forms_matches_torch(tmp_path: Path, block: str, form: str) -> None:
    from hwbench.export.job import run_export

    spec = det_spec(block, **(PRUNE if block != "vit" else {}))
    job = {"spec_json": spec.canonical_json, "format": "tflite", "precision": "fp32", "options": {}}
    result = run_export({**job, "artifact_dir": str(tmp_path), "token_form": form})
    assert result["status"] == "ok", result.get("error")
    assert result["info_json"]["token_form"] == form and result["parity_ok"]


@pytest.mark.export
def test_backbone_export_is_the_token_map(tmp_path: Path) -> None:
    import onnxruntime as ort

    from hwbench.models.det_vit_deploy import prepare_det_vit
    from hwbench.models.det_vit_export import run_backbone_export

    spec = det_spec("vit_mlp_prune", **PRUNE)
    model = build_model(spec)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    job = {"spec_json": spec.canonical_json, "format": "onnx", "precision": "fp32", "options": {}}
    result = run_backbone_export({**job, "artifact_dir": str(tmp_path), "weights": str(tmp_path / "w.pt")})
    assert result["status"] == "ok" and result["parity_ok"] and result["token_form"] == "dynamic", result
    prepare_det_vit(model, spec, "onnx", "auto", trained=True)  # type: ignore[arg-type]
    session = ort.InferenceSession(result["path"], providers=["CPUExecutionProvider"])
    x = images(1, seed=5)
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        assert got.shape == (1, 32, 4, 4) and np.allclose(got, model.backbone_map(x).numpy(), atol=1e-4)
