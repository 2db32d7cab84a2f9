"""A hybrid network builds each stage from its own block and matches a hand count."""

import torch

from hwbench.blocks.fused_mbconv import FusedMBConv
from hwbench.blocks.mbconv import MBConv
from hwbench.models import build_model, example_input
from hwbench.models.complexity import complexity
from hwbench.space.archspec import ArchSpec

HYBRID = {
    "family": "cnn",
    "block": "hybrid",
    "resolution": 32,
    "num_classes": 10,
    "stem": {"width": 8, "kernel": 3, "stride": 2},
    "stages": [
        {"depth": 1, "width": 8, "stride": 1, "params": {"block": "fused_mbconv", "expansion": 1}},
        {"depth": 1, "width": 16, "stride": 2, "params": {"block": "mbconv", "expansion": 2}},
    ],
    "head": {"width": 0},
}


def test_each_stage_is_its_block() -> None:
    model = build_model(ArchSpec.from_dict(HYBRID))
    assert isinstance(model.stages[0][0], FusedMBConv) and isinstance(model.stages[1][0], MBConv)


def test_hybrid_matches_a_hand_count() -> None:
    spec = ArchSpec.from_dict(HYBRID)
    stem = 3 * 8 * 9 * 256  # 3x3 conv 3→8 on 16x16
    fused = 8 * 8 * 9 * 256  # expansion 1: one 3x3 conv 8→8 on 16x16 (residual)
    mb = 8 * 16 * 256 + 16 * 9 * 64 + 16 * 16 * 64  # 1x1 8→16 on 16x16, 3x3/2 depthwise, 1x1 16→16 on 8x8
    macs = stem + fused + mb + 16 * 10
    params = (216 + 16) + (576 + 16) + (128 + 32) + (144 + 32) + (256 + 32) + (160 + 10)  # convs + BN + linear
    cx = complexity(spec)
    assert (cx.macs, cx.params) == (macs, params)
    with torch.no_grad():
        assert build_model(spec)(example_input(spec)).shape == (1, 10)


def test_the_hybrid_zoo_network_is_efficientnet_v2_s() -> None:
    from pathlib import Path

    from hwbench.space.archspec import load_arch

    _, spec = load_arch(Path(__file__).resolve().parents[2] / "design_spaces" / "fixed" / "efficientnet_v2_s.yaml")
    blocks = [s.params["block"] for s in spec.arch.stages]
    assert blocks == ["fused_mbconv"] * 3 + ["mbconv_se"] * 3 and spec.arch.resolution == 384
