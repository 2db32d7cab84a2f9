"""SSD-lite head options (a stage's expansion as a level, the backbone's head conv, bottleneck extra levels) and
the reference detector built from them; a detector stops its backbone after the last stage it reads."""

from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from hwbench.errors import ConfigError
from hwbench.models import build_model, example_input
from hwbench.models.complexity import complexity
from hwbench.models.detector import head_macs, num_boxes
from hwbench.space.archspec import ArchSpec, load_arch
from hwbench.space.detection import pyramid

SSDLITE = Path(__file__).resolve().parents[2] / "design_spaces" / "fixed" / "ssdlite_mobilenet_v2.yaml"
SQUARE, WIDE = [1, 1], [1, 2]


def det(head: dict, anchors: list, stages: list | None = None, backbone_head: int = 24, block: str = "mbconv") -> dict:
    """A 32 px detector on three backbone stages (8 ch /2, 12 ch /2, 16 ch /2 after a /2 stem)."""
    stages = stages or [
        {"depth": 1, "width": 8, "stride": 2, "params": {"expansion": 2}},
        {"depth": 2, "width": 12, "stride": 2, "params": {"expansion": 3}},
        {"depth": 1, "width": 16, "stride": 2, "params": {"expansion": 2}},
    ]
    backbone = {
        "family": "cnn",
        "block": block,
        "resolution": 32,
        "num_classes": 10,
        "stem": {"width": 8, "kernel": 3, "stride": 2},
        "stages": stages,
        "head": {"width": backbone_head, "act": "relu6"},
    }
    arch = {"family": "det", "block": block, "backbone": backbone, "resolution": 32, "num_classes": 3}
    return {**arch, "head": {"type": "ssdlite", "width": 10, **head}, "anchors": {"levels": anchors}}


SSD_HEAD = {
    "levels": [1, 2],
    "expansion_levels": [1],
    "backbone_head": True,
    "extra_levels": 2,
    "extra_type": "bottleneck",
    "extra_widths": [14, 6],
}


def test_ssdlite_levels_read_the_expansion_the_head_conv_and_bottleneck_extras() -> None:
    spec = ArchSpec.from_dict(det(SSD_HEAD, [[SQUARE], [SQUARE, WIDE], [SQUARE], [SQUARE]]))
    levels = pyramid(spec.arch)  # type: ignore[arg-type]
    # stage 1's expansion: 8 ch × 3 at the stride before the stage (4); the head conv (24 ch) after stage 2 (/16)
    assert [(lv.stride, lv.size, lv.channels) for lv in levels] == [(4, 8, 24), (16, 2, 24), (32, 1, 14), (64, 1, 6)]
    model = build_model(spec).eval()
    seen = {}
    model.stages[1][0].body[0].register_forward_hook(lambda m, i, o: seen.setdefault("expanded", o))
    model.backbone_head.register_forward_hook(lambda m, i, o: seen.setdefault("head", o))
    x = example_input(spec)
    with torch.no_grad():
        feats = model.features(x)
        boxes, scores = model(x)
    assert torch.equal(feats[0], seen["expanded"]) and torch.equal(feats[1], seen["head"])
    assert [f.shape[1:] for f in feats] == [(24, 8, 8), (24, 2, 2), (14, 1, 1), (6, 1, 1)]
    assert boxes.shape == (1, num_boxes(spec), 4) == (1, 64 + 8 + 1 + 1, 4) and scores.shape[-1] == 3
    # Bottleneck extra: 1x1 to half the width, depthwise 3x3/2, 1x1 to the width, each with BN (2 per channel).
    first = sum(p.numel() for p in model.extras[0].parameters())
    assert first == (24 * 7 + 14) + (9 * 7 + 14) + (7 * 14 + 28)
    # The tapped block still produces its usual output: the stage output equals the stage run whole.
    with torch.no_grad():
        stage_in = model.stages[0](model.stem(x))
        whole = model.stages[1](stage_in)
        split = model.stages[1][1](model.stages[1][0].body[1:](model.stages[1][0].body[0](stage_in)))
    torch.testing.assert_close(split, whole)


def test_the_options_stay_out_of_the_canonical_json_unless_set() -> None:
    plain = ArchSpec.from_dict(det({"levels": [1, 2], "extra_levels": 1}, [[SQUARE], [SQUARE], [SQUARE]]))
    head = plain.to_dict()["head"]
    assert set(head) == {"type", "width", "depth", "act", "levels", "extra_levels"}
    assert ArchSpec.from_json(plain.canonical_json).arch_id == plain.arch_id
    ssd = ArchSpec.from_dict(det(SSD_HEAD, [[SQUARE]] * 4))
    assert {k: ssd.to_dict()["head"][k] for k in SSD_HEAD} == SSD_HEAD
    assert ArchSpec.from_json(ssd.canonical_json).arch_id == ssd.arch_id


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"expansion_levels": [0]}, r"expansion_levels: \[0\] are not increasing stages among levels \[1, 2\]"),
        ({"expansion_levels": [1, 1]}, r"expansion_levels: \[1, 1\] are not increasing stages"),
        ({"levels": [0, 2], "expansion_levels": [0]}, r"stage 0's first block has no 1x1 expansion"),
        ({"extra_widths": [14]}, r"extra_widths: 1 widths for 2 extra levels"),
        ({"extra_type": "fancy"}, r"head.extra_type"),
        ("no_head_conv", r"head.backbone_head: the backbone has no head conv"),
        ("fused", r"stage 1's first block has no 1x1 expansion"),
    ],
)
def test_bad_ssdlite_options_name_the_key(change: object, message: str) -> None:
    if change == "no_head_conv":
        data = det(SSD_HEAD, [[SQUARE]] * 4, backbone_head=0)
    elif change == "fused":
        stages = [{"depth": 1, "width": w, "stride": 2, "params": {"expansion": 2}} for w in (8, 12, 16)]
        data = det(SSD_HEAD, [[SQUARE]] * 4, stages=stages, block="fused_mbconv")
    else:
        head = {**SSD_HEAD, **change}  # type: ignore[dict-item]
        if head["levels"][0] == 0:
            stages = [{"depth": 1, "width": w, "stride": 2, "params": {"expansion": 1}} for w in (8, 12, 16)]
            data = det(head, [[SQUARE]] * 4, stages=stages)
        else:
            data = det(head, [[SQUARE]] * 4)
    with pytest.raises(ConfigError, match=message):
        ArchSpec.from_dict(data, "d.yaml")


def test_the_reference_detector_has_the_papers_layout() -> None:
    file, spec = load_arch(SSDLITE)
    levels = pyramid(spec.arch)  # type: ignore[arg-type]
    assert [lv.stride for lv in levels] == [16, 32, 64, 128, 256, 512]
    assert [lv.size for lv in levels] == [20, 10, 5, 3, 2, 1]
    assert [lv.channels for lv in levels] == [576, 1280, 512, 256, 256, 128]
    assert spec.arch.anchors.per_level == [3, 6, 6, 6, 6, 6]  # type: ignore[attr-defined]
    assert num_boxes(spec) == 400 * 3 + (100 + 25 + 9 + 4 + 1) * 6
    assert file.published is not None and "background" in file.published.source


def stage_macs(model: torch.nn.Module, x: torch.Tensor, first: int) -> int:
    """MACs of the backbone stages from `first` on, run on their real input."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad():
        h = model.stages[:first](model.stem(x))
        with counter:
            model.stages[first:](h)
    return int(counter.get_total_flops() // 2)


def test_a_detector_stops_after_the_last_stage_it_reads() -> None:
    """Levels 1 and 2 empty, no extra level: stages 1 and 2 feed nothing and are not run; outputs do not change."""
    full = ArchSpec.from_dict(det({"levels": [0, 1, 2]}, [[SQUARE, WIDE], [SQUARE], [SQUARE]], backbone_head=0))
    cut = ArchSpec.from_dict(det({"levels": [0, 1, 2]}, [[SQUARE, WIDE], [], []], backbone_head=0))
    model, parent = build_model(cut).eval(), build_model(full)
    # The stages stay: a pruned detector loads its parent's backbone weights.
    backbone = [(k, v.shape) for k, v in parent.state_dict().items() if not k.startswith("head.")]
    assert backbone == [(k, v.shape) for k, v in model.state_dict().items() if not k.startswith("head.")]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert len(model.features(x)) == 1  # level 0 only
        logits, deltas = model.forward_raw(x)
        h0 = model.stages[0](model.stem(x))
        h1 = model.stages[1](h0)
        expected = model.head([h0, h1, model.stages[2](h1)])  # every stage run, as before the stop
    torch.testing.assert_close((logits, deltas), expected, rtol=0, atol=0)
    # Counted MACs drop by exactly what stages 1 and 2 cost, and by the two emptied levels' predictors.
    saved = complexity(full).macs - complexity(cut).macs
    assert saved == stage_macs(model, example_input(cut), 1) + head_macs(full) - head_macs(cut) > 0
    assert complexity(cut).params < complexity(full).params  # only the emptied levels' predictors go


@pytest.mark.export
@pytest.mark.parametrize("fmt", ["onnx", pytest.param("tflite", marks=pytest.mark.extended)])
def test_the_reference_detector_exports_with_parity(tmp_path: Path, fmt: str) -> None:
    """At a det sweep's shape (128 px, 10 classes): boxes and scores of the artifact match PyTorch's."""
    from hwbench.export import get_exporter
    from hwbench.export.job import run_export
    from hwbench.space.reference import at_shape

    spec = at_shape(load_arch(SSDLITE)[1], 128, 10)
    options = get_exporter(fmt).options().model_dump()
    job = {"spec_json": spec.canonical_json, "format": fmt, "precision": "fp32", "options": options}
    result = run_export({**job, "artifact_dir": str(tmp_path)})
    assert result["status"] == "ok", result.get("error")
    n = num_boxes(spec)
    assert [o["shape"] for o in result["info_json"]["parity"]["outputs"]] == [[1, n, 4], [1, n, 10]]
    assert result["parity_ok"] is True
