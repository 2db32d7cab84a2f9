"""ViT detectors with ToMe merging (det_vit_tome): the un-merged map is a full grid, r = 0 is the dense detector,
a merged group's positions share one vector, the spaces pair, per-image counts, and export parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hwbench.models import build_model
from hwbench.models.det_vit import ViTDetector
from hwbench.space.archspec import ArchSpec
from hwbench.space.det_vit import dense_detector
from tests.models.test_det_vit import det_spec as vit_det_spec

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
FORMS = ["topk", "sort_free"]


def det_spec(block: str = "vit_tome", depth: int = 3, **params: object) -> ArchSpec:
    """A tiny ViT detector: 32 px, 4x4 tokens (17 with the class token), strides 4/8/16 + one extra level."""
    return vit_det_spec(block, depth, **params)


def pair(**params: object) -> tuple[ViTDetector, ViTDetector]:
    """A dense detector and a merging one carrying its weights (ToMe adds no parameters)."""
    spec = det_spec(**params)
    dense, merging = build_model(dense_detector(spec)), build_model(spec)
    merging.load_state_dict(dense.state_dict())
    return dense.eval(), merging.eval()  # type: ignore[return-value]


def images(n: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("form", FORMS)
def test_no_merging_equals_dense_exactly(form: str) -> None:
    dense, merging = pair(r=0)
    merging.set_token_form(form)
    x = images()
    with torch.no_grad():
        want, got = dense(x), merging(x)
        assert torch.equal(merging.backbone_map(x), dense.backbone_map(x))
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


@pytest.mark.parametrize("form", FORMS)
def test_unmerged_map_is_full_and_groups_share_their_token(form: str) -> None:
    _, merging = pair(r=3)
    merging.set_token_form(form)
    x = images()
    with torch.no_grad():
        t = merging.forward_tokens(x)
        grid = merging.backbone_map(x)
    assert t.x.shape[1] == 17 - 9 and grid.shape == (2, 32, 4, 4)  # 3 + 3 + 3 merges, the full 4x4 map back
    cells = grid.flatten(2).transpose(1, 2)  # (B, 16, C), raster order
    final = merging.vit.norm(t.x)
    for i in range(2):
        source = t.source[i].long()  # type: ignore[index]
        assert torch.allclose(cells[i], final[i, source], atol=1e-6)  # each position carries the token holding it
        assert set(source.tolist()) == set(range(1, 8))  # every patch token holds a cell; the class token none
        # A group's cells are one vector, and as many cells as the token's size.
        for j in range(1, 8):
            group = cells[i, source == j]
            assert (group == group[0]).all() and len(group) == int(t.size[i, j])  # type: ignore[index]
        assert len(torch.unique(cells[i], dim=0)) == 7


def test_training_step_merges_and_has_no_auxiliary_loss() -> None:
    _, merging = pair(r=3)
    merging.train()
    cls_logits, box_deltas = merging.forward_raw(images(2))
    loss = cls_logits.square().mean() + box_deltas.square().mean() + merging.auxiliary_loss()
    loss.backward()
    assert merging.auxiliary_loss().item() == 0.0 and torch.isfinite(loss)
    assert merging.vit.patch_embed.weight.grad is not None  # through the un-merge gather to the whole backbone


def test_spaces_sample_reproducibly_and_pair() -> None:
    from hwbench.space.design_space import load_space
    from hwbench.space.sampling import sample_space

    dense = sample_space(load_space(ROOT / "design_spaces" / "det_vit.yaml"), 3, 7)
    merging = sample_space(load_space(ROOT / "design_spaces" / "det_vit_tome.yaml"), 3, 7)
    for d, q in zip(dense, merging, strict=True):
        assert q.spec.block == "vit_tome" and q.spec.arch.pruning is None
        assert dense_detector(q.spec).arch_id == d.spec.arch_id  # same backbone and head as its dense pair


@pytest.mark.parametrize(("fmt", "form"), [("onnx", "topk"), ("tflite", "sort_free")])
def test_prepare_counts_merged_tokens_per_image(fmt: str, form: str) -> None:
    from hwbench.models.det_vit_deploy import count_per_input, prepare_det_vit

    spec = det_spec(r=3)
    model = build_model(spec).eval()
    facts = prepare_det_vit(model, spec, fmt, images=images(3))  # type: ignore[arg-type]
    (dense,) = count_per_input(build_model(dense_detector(spec)).eval(), images(1))  # type: ignore[arg-type]
    assert facts["token_form"] == form and len(facts["per_input"]) == 3
    for p in facts["per_input"]:  # static counts: every image the same, the class token included
        assert p["tokens"] == [14, 11, 8] and p["backbone_macs"] < dense["backbone_macs"] and p["macs"] < dense["macs"]


def export(tmp_path: Path, fmt: str, form: str) -> dict[str, object]:
    """Export the merging detector (seeded weights); the export's own parity compares it to torch on one image."""
    from hwbench.export.job import run_export

    spec = det_spec(r=3)
    job = {"spec_json": spec.canonical_json, "format": fmt, "precision": "fp32", "options": {}}
    result = run_export({**job, "artifact_dir": str(tmp_path), "token_form": form})
    assert result["status"] == "ok", result.get("error")
    assert result["info_json"]["token_form"] == form and result["parity_ok"]
    print(f"{fmt} {form}: max |torch - export| {result['max_abs_err']:.2e}")
    return result


@pytest.mark.export
def test_onnx_export_matches_torch(tmp_path: Path) -> None:
    import onnxruntime as ort

    from hwbench.export.artifacts import ArtifactStore
    from hwbench.models.det_vit_deploy import prepare_det_vit

    result = export(tmp_path, "onnx", "topk")
    path = ArtifactStore(str(tmp_path)).path(result["artifact_hash"], result["extension"])  # type: ignore[arg-type]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    spec = det_spec(r=3)
    model = build_model(spec)
    prepare_det_vit(model, spec, "onnx", "topk")  # type: ignore[arg-type]
    for seed in (3, 4):  # images beside the parity one: other merges, the same static graph
        x = images(1, seed=seed)
        boxes, scores = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        with torch.no_grad():
            want = model(x)
        assert np.allclose(boxes, want[0].numpy(), atol=1e-3) and np.allclose(scores, want[1].numpy(), atol=1e-4)


@pytest.mark.extended
@pytest.mark.export
def test_litert_export_matches_torch(tmp_path: Path) -> None:
    export(tmp_path, "tflite", "sort_free")
