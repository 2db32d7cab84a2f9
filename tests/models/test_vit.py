"""ViT builder, complexity per input, and export preparation: form per format, calibration, capacities."""

from __future__ import annotations

import pytest
import torch

from hwbench.models.complexity import complexity
from hwbench.models.vit_deploy import calibration_images, count_per_input, prepare_vit
from tests.vit_helpers import REDUCING, TOKEN_BLOCKS, N, images, set_ltmp, tiny_model, tiny_spec


def test_deit_tiny_matches_the_paper() -> None:
    """DeiT-Ti: 5,717,416 parameters (timm's count) and ~1.26 G multiply-adds at 224 px."""
    from pathlib import Path

    from hwbench.space.archspec import load_arch

    _, spec = load_arch(Path(__file__).resolve().parents[2] / "design_spaces" / "fixed" / "deit_tiny.yaml")
    cx = complexity(spec)
    assert cx.params == 5_717_416
    assert 1.24e9 < cx.macs < 1.27e9


@pytest.mark.parametrize("block", TOKEN_BLOCKS)
def test_counts_per_input_follow_the_form(block: str) -> None:
    """Dynamic forms compute less for images that keep fewer tokens; masking computes everything."""
    spec = tiny_spec(block, **REDUCING[block])
    model = tiny_model(block, **REDUCING[block])
    facts = prepare_vit(model, spec, "onnx")
    dense = count_per_input(tiny_model("vit"), images(3))[0]["macs"]
    rows = facts["per_input"]
    assert len(rows) == 8 and all(len(r["tokens"]) == len(model.token_blocks()) for r in rows)
    assert all(r["macs"] < dense for r in rows)
    if block == "vit_tome":
        assert len({r["macs"] for r in rows}) == 1  # static count
    else:
        assert len({r["macs"] for r in rows}) > 1 and len({tuple(r["tokens"]) for r in rows}) > 1
        model.set_token_form("mask")
        assert all(r["macs"] >= dense for r in count_per_input(model, images(3)))


@pytest.mark.parametrize(
    ("block", "fmt", "setting", "form"),
    [
        ("vit", "tflite", "auto", "dense"),
        ("vit", "onnx", "mask", "dense"),  # nothing to choose
        ("vit_tome", "onnx", "auto", "topk"),
        ("vit_tome", "torch", "auto", "topk"),
        ("vit_tome", "tflite", "auto", "sort_free"),
        ("vit_tome", "openvino", "auto", "sort_free"),
        ("vit_tome", "onnx", "static", "sort_free"),
        ("vit_ltmp", "onnx", "auto", "dynamic"),
        ("vit_ltmp", "tflite", "auto", "fixed_count"),
        ("vit_ltmp", "onnx", {"vit_ltmp": "mask"}, "mask"),
        ("vit_ltmp", "onnx", {"vit_tome": "sort_free"}, "dynamic"),
        ("vit_mlp_prune", "onnx", "auto", "dynamic"),
        ("vit_mlp_prune", "tflite", "static", "fixed_count"),
        ("vit_mlp_prune", "tflite", "mask", "mask"),
    ],
)
def test_the_profile_chooses_the_form(block: str, fmt: str, setting: object, form: str) -> None:
    spec = tiny_spec(block, **REDUCING[block])
    model = tiny_model(block, **REDUCING[block])
    facts = prepare_vit(model, spec, fmt, setting)  # type: ignore[arg-type]
    assert facts["token_form"] == model.token_form == form
    assert ("capacities" in facts) == (form == "fixed_count")
    assert ("uses" in facts) == (form in ("topk", "dynamic"))


def test_a_form_the_block_lacks_is_an_error() -> None:
    spec = tiny_spec("vit_tome", r=2)
    with pytest.raises(ValueError, match="block 'vit_tome' has no token form 'dynamic'; it has topk, sort_free"):
        prepare_vit(tiny_model("vit_tome", r=2), spec, "onnx", "dynamic")


def test_fixed_count_capacities_hold_every_calibration_image() -> None:
    spec = tiny_spec("vit_ltmp", flops_target=0.5)
    model = tiny_model("vit_ltmp", flops_target=0.5)
    facts = prepare_vit(model, spec, "tflite")
    caps = facts["capacities"]
    assert len(caps) == 4 and all(1 <= c <= N for c in caps) and caps[-1] < N
    for row in facts["per_input"]:
        assert all(t <= c for t, c in zip(row["tokens"], caps))
    x = calibration_images(spec)
    masked = tiny_model("vit_ltmp", flops_target=0.5)
    prepare_vit(masked, spec, "onnx", "mask")
    with torch.no_grad():  # no calibration image overflows, so fixed_count equals masking on them
        torch.testing.assert_close(model(x), masked(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("target", [0.5, 0.8])
def test_untrained_ltmp_is_calibrated_to_its_flops_budget(target: float) -> None:
    spec = tiny_spec("vit_ltmp", flops_target=target)
    facts = prepare_vit(tiny_model("vit_ltmp", flops_target=target), spec, "onnx")
    assert facts["calibration"]["flops_ratio"] == pytest.approx(target, abs=0.05)


def test_untrained_pruner_is_calibrated_to_its_keep_ratios() -> None:
    spec = tiny_spec("vit_mlp_prune", skip_first=1, keep_ratio=0.6)
    facts = prepare_vit(tiny_model("vit_mlp_prune", skip_first=1, keep_ratio=0.6), spec, "onnx")
    cal = facts["calibration"]
    assert cal["keep_targets"] == [0.6, 0.36, 0.216]
    assert cal["keep_ratio"] == pytest.approx(cal["keep_targets"], abs=1 / 16)


def test_trained_models_are_not_recalibrated() -> None:
    spec = tiny_spec("vit_ltmp")
    model = set_ltmp(tiny_model("vit_ltmp"), merge=0.3, prune=0.01)
    facts = prepare_vit(model, spec, "onnx", images=images(4), trained=True)
    assert "calibration" not in facts and facts["calibration_images"] == {"count": 4, "source": "given"}
    assert all(b.merge_threshold.item() == pytest.approx(0.3) for b in model.token_blocks())


def test_calibration_can_be_switched_off_to_measure_overhead_alone() -> None:
    """Thresholds that never fire, kept as given: every token survives, the output is the dense one."""
    knobs = {"merge_threshold": 2.0, "prune_threshold": -1.0, "calibrate": False}
    spec = tiny_spec("vit_ltmp", **knobs)
    model = tiny_model("vit_ltmp", **knobs)
    facts = prepare_vit(model, spec, "tflite")
    assert "calibration" not in facts and facts["capacities"] == [N] * 4
    assert all(r["tokens"] == [N] * 4 for r in facts["per_input"])
    with torch.no_grad():
        torch.testing.assert_close(model(images()), tiny_model("vit")(images()), rtol=0, atol=1e-5)
