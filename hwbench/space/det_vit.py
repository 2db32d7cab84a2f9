"""The ViT detector family ("det_vit"): a ViT backbone drawn exactly as its ViT block space draws it, a ViTDet-style
simple feature pyramid over its token grid, and the one-stage anchor head of the detector macro.

A detector space names a ViT block space as `backbone:` (vit.yaml, vit_mlp_prune.yaml) and the shared detector
macro; it may override the backbone block's knobs (`block_params:`) and set the dense-task pruning knobs
(`pruning:`). Dense and pruned detector spaces draw the same backbones and heads for a seed (docs/vit.md).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from hwbench.config import Strict
from hwbench.space.anchors import AnchorSpec
from hwbench.space.constraints import Constraints
from hwbench.space.detection import DetHeadSpec, DetMacro, detector_dict
from hwbench.space.families import FAMILIES, Family
from hwbench.space.pyramid import Level, check_anchor_levels, check_backbone, level_anchors, level_boxes
from hwbench.space.samplers import Param
from hwbench.space.vit import ViTArch, ViTMacro, dense_counterpart, draw_vit, macro_stream

# The simple pyramid's scales of the patch grid, finest first (ViTDet: ×4, ×2, identity, ÷2); a level index of
# `head.levels` picks one. `levels: n` in the macro takes the n coarsest.
SCALES = (4.0, 2.0, 1.0, 0.5)


class PruningKnobs(Strict):
    """Dense-task pruning (SViT) and its ablations; only detectors whose backbone block prunes take them."""

    # Every pruning block decides on the full token set (a skipped token can come back); false: masks multiply.
    reactivate: bool = True
    # Skipped tokens stay in place in the map; false: discarded, their map cells refilled from the last kept token.
    keep_pruned: bool = True
    # dynamic: (batch-mean kept fraction − target)²; fixed: the same per image, averaged (one rate for every image).
    rate: Literal["dynamic", "fixed"] = "dynamic"
    # Pruning fine-tune after the dense schedule: this many epochs with the selectors on (0: train pruned throughout).
    finetune_epochs: int = Field(1, ge=0, le=100)
    # Decision rule after training: calibrated: each selector's keep bias set on training images so its block keeps
    # its target on average (hwbench.models.calibrate.calibrate_prune); learned: p(keep) > p(skip) as trained (SViT).
    threshold: Literal["calibrated", "learned"] = "calibrated"


class DetViTArch(Strict):
    """A concrete ViT detector: the backbone as its ViT space draws it, the detector input, pyramid and head."""

    family: Literal["det_vit"] = "det_vit"
    block: str
    backbone: ViTArch
    resolution: int = Field(ge=8, le=4096)
    in_channels: int = Field(3, ge=1, le=64)
    num_classes: int = Field(ge=1, le=100_000)
    head: DetHeadSpec
    anchors: AnchorSpec
    pruning: PruningKnobs | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DetViTArch:
        check_backbone(self)
        if self.head.levels[-1] >= len(SCALES):
            raise ValueError(f"head.levels: scale {self.head.levels[-1]} does not exist ({len(SCALES)} scales)")
        patch = self.backbone.patch
        for i in self.head.levels:
            if (patch / SCALES[i]) % 1:
                raise ValueError(f"head.levels: scale ×{SCALES[i]} of patch {patch} is not a whole stride")
        coarsest = int(patch / SCALES[self.head.levels[-1]])
        if self.resolution % max(coarsest, patch):
            raise ValueError(f"resolution: {self.resolution} is not a multiple of the coarsest stride {coarsest}")
        check_anchor_levels(self)
        prunes = _has_selectors(self.block)
        if prunes and self.pruning is None:
            raise ValueError(f"pruning: block {self.block!r} prunes tokens; its detector needs the pruning knobs")
        if not prunes and self.pruning is not None:
            raise ValueError(f"pruning: block {self.block!r} does not prune; drop the pruning knobs")
        return self

    @property
    def network_backbone(self) -> ViTArch:
        """The backbone at the detector's input size (the drawn one is at the classification size)."""
        return self.backbone.model_copy(update={"resolution": self.resolution})


def _has_selectors(block: str) -> bool:
    """Whether the block prunes with SViT-style selectors (keep-ratio targets): only those take `pruning:` knobs;
    LTMP prunes by learned thresholds and trains its own way (hwbench.accuracy.detection.ltmp_phase)."""
    from hwbench.blocks import get_block

    return "keep_ratio" in get_block(block).params.model_fields


def vit_pyramid(arch: DetViTArch) -> list[Level]:
    """Pyramid levels: the chosen scales of the token grid, then extra stride-2 levels (ceil)."""
    patch, res = arch.backbone.patch, arch.resolution
    levels = []
    for i in arch.head.levels:
        stride = int(patch / SCALES[i])
        levels.append(Level(stride, res // stride, arch.head.width, i))
    stride, size = levels[-1].stride, levels[-1].size
    for _ in range(arch.head.extra_levels):
        stride, size = stride * 2, math.ceil(size / 2)
        levels.append(Level(stride, size, arch.head.width, None))
    return levels


def anchor_boxes(arch: DetViTArch) -> np.ndarray:
    """The detector's anchors, [N, 4] xyxy float32, in the head's output order."""
    return level_anchors(arch.anchors, vit_pyramid(arch))


def num_boxes(arch: DetViTArch) -> int:
    """Boxes the detector predicts per image."""
    return level_boxes(arch.anchors, vit_pyramid(arch))


# Families whose networks are detectors (boxes and scores out; the detection pipeline trains and times them).
DETECTOR_FAMILIES = ("det", "det_vit")


def boxes_per_image(arch: Any) -> int:
    """Boxes a detector of either family predicts per image."""
    if arch.family == "det_vit":
        return num_boxes(arch)
    from hwbench.space.detection import num_boxes as cnn_boxes

    return cnn_boxes(arch)


class DetViTBackbone(Strict):
    """The ViT block space of a detector space (set by the loader from the space's `backbone:`)."""

    space: str
    macro: ViTMacro
    block_params: dict[str, Param] = {}


class DetViTSpaceMacro(DetMacro):
    """A detector macro joined with its ViT backbone space and the pruning knobs (made by the loader)."""

    backbone: DetViTBackbone
    pruning: PruningKnobs | None = None

    @property
    def constraints(self) -> Constraints:
        """The ViT macro's windows, judged on the dense backbone at the classification size (pairing)."""
        return self.backbone.macro.constraints


def draw_det_vit(
    macro: DetViTSpaceMacro, block: str, block_params: dict[str, Param], rng: np.random.Generator
) -> dict[str, Any]:
    """Draw one ViT detector: the backbone with the ViT draw on `rng`, head knobs from the dense backbone's hash
    (so a pruned detector and its dense counterpart get the same head)."""
    from hwbench.space.archspec import ArchSpec

    if not isinstance(macro, DetViTSpaceMacro):
        raise ValueError("a ViT detector draws only inside a detector space whose `backbone:` is a ViT space")
    backbone = ArchSpec.from_dict(draw_vit(macro.backbone.macro, block, block_params, rng))
    if not isinstance(macro.head.levels, int):
        raise ValueError("head.levels: a ViT detector takes a count (the n coarsest simple-pyramid scales)")
    levels = list(range(len(SCALES) - macro.head.levels, len(SCALES)))
    prunes = _has_selectors(block)
    arch = detector_dict("det_vit", block, backbone, dense_counterpart(backbone).canonical_json, macro, levels)
    return {**arch, "pruning": (macro.pruning or PruningKnobs()).model_dump() if prunes else None}


def dense_detector(spec: Any) -> Any:
    """The same detector with the plain ViT block and no pruning knobs: a pruned detector's counterpart."""
    from hwbench.space.archspec import ArchSpec

    if spec.block == "vit":
        return spec
    data = spec.to_dict()
    backbone = {**data["backbone"], "block": "vit", "params": {}}
    return ArchSpec.from_dict({**data, "block": "vit", "backbone": backbone, "pruning": None})


class DetViTSpaceFile(Strict):
    """A ViT detector space file: the ViT block space, the detector macro, knob overrides, pruning knobs."""

    name: str | None = None
    description: str = ""
    backbone: str
    detector: str | dict[str, Any] = {}
    block_params: dict[str, Param] = {}
    pruning: PruningKnobs | None = None


def backbone_spec(spec: Any) -> Any:
    """The dense ViT backbone at the classification size: windows and duplicates are judged on it (pairing)."""
    from hwbench.space.archspec import ArchSpec

    return dense_counterpart(ArchSpec(spec.arch.backbone))


def det_vit_stream(space: Any) -> str:
    """Random-stream key: the backbone ViT macro's, so every ViT space and ViT detector space draw paired backbones."""
    return macro_stream(SimpleNamespace(macro=space.macro.backbone.macro))


FAMILIES.register("det_vit")(
    Family(
        name="det_vit",
        arch_model=DetViTArch,
        macro_model=DetMacro,
        draw=draw_det_vit,  # type: ignore[arg-type]
        builder="hwbench.models.det_vit:build_det_vit",
        prepare="hwbench.models.det_vit_deploy:prepare_det_vit",
        stream=det_vit_stream,
        backbone=backbone_spec,
    )
)
