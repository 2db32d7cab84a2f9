"""Pyramid geometry of a detector: which feature each level reads (a stage's output, its first block's
expansion, the backbone's head conv, an extra level), at what stride, size and width; and the structural checks
both detector families (CNN and ViT backbones) make."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from hwbench.space.anchors import AnchorSpec, count_boxes, generate

if TYPE_CHECKING:
    from hwbench.space.cnn import CNNArch


class CNNDetector(Protocol):
    """What the pyramid reads of a CNN detector (hwbench.space.detection.DetArch), named structurally so this
    module, which that one imports, does not import it back."""

    head: Any
    backbone: CNNArch
    resolution: int


class Level(NamedTuple):
    """One pyramid level: stride, square feature size, channels, source stage (ViT: scale index; None: extra)."""

    stride: int
    size: int
    channels: int
    stage: int | None


def backbone_strides(backbone: CNNArch) -> list[int]:
    """Cumulative stride after each backbone stage."""
    stride, out = backbone.stem.total_stride, []
    for stage in backbone.stages:
        stride *= stage.stride
        out.append(stride)
    return out


EXPANDING_BLOCKS = ("mbconv", "mbconv_se")  # blocks whose first layer is a 1x1 expansion (before the stride)


def expanded_width(backbone: CNNArch, stage: int) -> int:
    """Channels of the 1x1 expansion of stage `stage`'s first block, or 0 when that block has none."""
    params = backbone.stages[stage].params
    block = params.get("block", backbone.block)  # a hybrid stage names its own block
    expansion = int(params.get("expansion", 1))
    if block not in EXPANDING_BLOCKS or expansion == 1:
        return 0
    cin = backbone.stages[stage - 1].width if stage else backbone.stem.width
    return cin * expansion


def pyramid(arch: CNNDetector) -> list[Level]:
    """Every pyramid level in order: the chosen stages, then the extra levels (3x3 stride 2, padded: ceil)."""
    head, backbone = arch.head, arch.backbone
    strides = [backbone.stem.total_stride, *backbone_strides(backbone)]  # strides[i]: before stage i
    last = len(backbone.stages) - 1
    levels = []
    for i in head.levels:
        if i in head.expansion_levels:  # read before the stage's stride
            levels.append(Level(strides[i], arch.resolution // strides[i], expanded_width(backbone, i), i))
            continue
        width = backbone.head.width if head.backbone_head and i == last else backbone.stages[i].width
        levels.append(Level(strides[i + 1], arch.resolution // strides[i + 1], width, i))
    stride, size = strides[-1], arch.resolution // strides[-1]
    for j in range(head.extra_levels):
        stride, size = stride * 2, math.ceil(size / 2)
        levels.append(Level(stride, size, head.extra_width(j), None))
    return levels


def level_anchors(anchors: AnchorSpec, levels: list[Level]) -> np.ndarray:
    """Anchors over pyramid levels, [N, 4] xyxy float32, in the head's output order (either family)."""
    return generate(anchors, [lv.stride for lv in levels], [lv.size for lv in levels])


def level_boxes(anchors: AnchorSpec, levels: list[Level]) -> int:
    """Boxes predicted per image over pyramid levels (anchors × cells; either family)."""
    return count_boxes(anchors, [lv.size for lv in levels])


def check_backbone(arch: Any) -> None:
    """A detector's block and input channels are its backbone's (both families)."""
    if arch.block != arch.backbone.block:
        raise ValueError(f"block: {arch.block!r} differs from the backbone's block {arch.backbone.block!r}")
    if arch.in_channels != arch.backbone.in_channels:
        raise ValueError(f"in_channels: {arch.in_channels} differs from the backbone's {arch.backbone.in_channels}")


def check_anchor_levels(arch: Any) -> None:
    """One anchor level per pyramid level: the chosen levels and the extras (both families)."""
    want = len(arch.head.levels) + arch.head.extra_levels
    if len(arch.anchors.levels) != want:
        raise ValueError(f"anchors.levels: {len(arch.anchors.levels)} anchor levels for {want} pyramid levels")
