"""The detector family ("det"): a CNN backbone drawn exactly as its block space draws it, plus a feature
pyramid, a one-stage head (SSD-lite or RetinaNet-lite) and explicit per-level anchors."""

from __future__ import annotations

import hashlib
import json
import math
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from hwbench.blocks import Act
from hwbench.config import Strict
from hwbench.space.anchors import AnchorPreset, AnchorSpec
from hwbench.space.cnn import CNNArch, CNNMacro, draw_cnn
from hwbench.space.constraints import Constraints
from hwbench.space.families import FAMILIES, Family
from hwbench.space.pyramid import (
    backbone_strides,
    check_anchor_levels,
    check_backbone,
    expanded_width,
    level_anchors,
    level_boxes,
    pyramid,
)
from hwbench.space.samplers import Param, Sampler, draw_param, param_extremes

if TYPE_CHECKING:
    from hwbench.space.archspec import ArchSpec

HEAD_TYPES = ("ssdlite", "retinanet_lite")


class DetHeadSpec(Strict):
    """Pyramid and head: which backbone stages feed it, extra stride-2 levels, the head type and its size."""

    type: Literal["ssdlite", "retinanet_lite"]
    # Channels of the extra levels; for retinanet_lite also of the laterals and the shared tower.
    width: int = Field(ge=1, le=4096)
    # Depthwise-separable layers of the shared tower (retinanet_lite only; 0 for ssdlite).
    depth: int = Field(0, ge=0, le=8)
    act: Act = "relu6"
    levels: list[int] = Field(min_length=1, max_length=12)  # backbone stage indices, increasing
    extra_levels: int = Field(0, ge=0, le=6)
    # SSD-lite as the MobileNetV2 paper builds it; each is written only when set (see _omit_defaults).
    # Stages of `levels` whose level is the first block's expansion output (before its strided depthwise).
    expansion_levels: list[int] = []
    # The backbone's 1x1 head conv runs after the last stage: the last stage's level and the extras read it.
    backbone_head: bool = False
    # Extra level: "separable" (depthwise 3x3/2, 1x1) or "bottleneck" (1x1 to half, depthwise 3x3/2, 1x1).
    extra_type: Literal["separable", "bottleneck"] = "separable"
    extra_widths: list[Annotated[int, Field(ge=1, le=4096)]] = []  # per extra level; empty: `width` for each

    @model_validator(mode="after")
    def _consistent(self) -> DetHeadSpec:
        if any(b <= a for a, b in zip(self.levels, self.levels[1:], strict=False)) or self.levels[0] < 0:
            raise ValueError(f"levels: stage indices must be >= 0 and increasing, got {self.levels}")
        if self.type == "ssdlite" and self.depth:
            raise ValueError("depth: the shared tower is a retinanet_lite knob; ssdlite takes depth 0")
        taps = self.expansion_levels
        if not set(taps) <= set(self.levels) or sorted(set(taps)) != taps:  # one spelling per network
            raise ValueError(f"expansion_levels: {taps} are not increasing stages among levels {self.levels}")
        if self.extra_widths and len(self.extra_widths) != self.extra_levels:
            raise ValueError(f"extra_widths: {len(self.extra_widths)} widths for {self.extra_levels} extra levels")
        return self

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Written only when set, so every detector stored before these options existed keeps its arch_id.
        data = handler(self)
        for key, default in _OPTIONAL_HEAD.items():
            if data.get(key) == default:
                data.pop(key, None)
        return data

    def extra_width(self, j: int) -> int:
        """Output channels of extra level `j`."""
        return self.extra_widths[j] if self.extra_widths else self.width


_OPTIONAL_HEAD: dict[str, Any] = {
    "expansion_levels": [],
    "backbone_head": False,
    "extra_type": "separable",
    "extra_widths": [],
}


class DetArch(Strict):
    """A concrete detector: the CNN backbone as its block space draws it, the detector input and the head."""

    family: Literal["det"] = "det"
    block: str
    backbone: CNNArch
    resolution: int = Field(ge=8, le=4096)
    in_channels: int = Field(3, ge=1, le=64)
    num_classes: int = Field(ge=1, le=100_000)
    head: DetHeadSpec
    anchors: AnchorSpec

    @model_validator(mode="after")
    def _consistent(self) -> DetArch:
        check_backbone(self)
        stages = len(self.backbone.stages)
        if self.head.levels[-1] >= stages:
            raise ValueError(f"head.levels: stage {self.head.levels[-1]} does not exist ({stages} stages)")
        total = backbone_strides(self.backbone)[-1]
        # Blocks differ in how they round odd sizes (padded kxk vs unpadded patchify), so sizes must divide.
        if self.resolution % total:
            raise ValueError(f"resolution: {self.resolution} is not a multiple of the backbone stride {total}")
        check_anchor_levels(self)
        for i in self.head.expansion_levels:
            if not expanded_width(self.backbone, i):
                raise ValueError(
                    f"head.expansion_levels: stage {i}'s first block has no 1x1 expansion to tap "
                    f"(an mbconv or mbconv_se block with expansion > 1 has one)"
                )
        if self.head.backbone_head and not self.backbone.head.width:
            raise ValueError("head.backbone_head: the backbone has no head conv (its head.width is 0)")
        return self


def anchor_boxes(arch: DetArch) -> np.ndarray:
    """The detector's anchors, [N, 4] xyxy float32, in the head's output order."""
    return level_anchors(arch.anchors, pyramid(arch))


def num_boxes(arch: DetArch) -> int:
    """Boxes the detector predicts per image (anchors × cells over every level)."""
    return level_boxes(arch.anchors, pyramid(arch))


def _reachable(param: Param) -> list[Any]:
    """Every value of a choice sampler, the edge values of anything else."""
    if isinstance(param, Sampler) and param.choice is not None:
        return list(param.choice)
    return param_extremes(param)


def _one_per_network(param: Param, key: str) -> None:
    if isinstance(param, list) or (isinstance(param, Sampler) and param.per_stage):
        raise ValueError(f"{key} takes one value per network (no per_stage, no lists)")


class MacroDetHead(Strict):
    """Head knobs of the detector macro; type, width and depth may be sampled."""

    type: Param = "ssdlite"
    width: Param = 64
    depth: Param = 2
    act: Act = "relu6"
    levels: int | list[int] = 3  # an int n: the last n stages; a list: those stage indices
    extra_levels: int = Field(1, ge=0, le=6)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: Param) -> Param:
        _one_per_network(value, "type")
        bad = [v for v in _reachable(value) if v not in HEAD_TYPES]
        if bad:
            raise ValueError(f"unknown head type {bad[0]!r}; valid: {', '.join(HEAD_TYPES)}")
        return value

    @field_validator("width", "depth")
    @classmethod
    def _counts(cls, value: Param, info: ValidationInfo) -> Param:
        _one_per_network(value, str(info.field_name))
        low = 1 if info.field_name == "width" else 0
        bad = [v for v in _reachable(value) if not isinstance(v, int) or isinstance(v, bool) or v < low]
        if bad:
            raise ValueError(f"expected integers >= {low}, got {bad[0]!r}")
        return value

    def stage_indices(self, stages: int) -> list[int]:
        """The backbone stages feeding the pyramid, for a backbone of `stages` stages."""
        return list(range(stages - self.levels, stages)) if isinstance(self.levels, int) else list(self.levels)


class DetBackbone(Strict):
    """The backbone CNN block space of a detector space (set by the loader from the space's `backbone:`)."""

    space: str  # the CNN space's name: its random stream, so backbones pair with the classification sweep
    macro: CNNMacro
    block_params: dict[str, Param] = {}


class DetMacro(Strict):
    """The detector macro: input size, classes, head knobs and anchors; the backbone comes from its space."""

    family: Literal["det"] = "det"
    description: str = ""
    resolution: Param = 128
    num_classes: int = Field(10, ge=1, le=100_000)
    head: MacroDetHead = MacroDetHead()
    anchors: AnchorPreset = AnchorPreset()

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, value: Param) -> Param:
        _one_per_network(value, "resolution")
        bad = [v for v in _reachable(value) if not isinstance(v, int) or v < 8]
        if bad:
            raise ValueError(f"expected integers >= 8, got {bad[0]!r}")
        return value


class DetSpaceMacro(DetMacro):
    """A detector macro joined with its space's backbone (made by the loader, never written in a file)."""

    backbone: DetBackbone

    @property
    def constraints(self) -> Constraints:
        """The backbone space's windows: detectors are sampled under the classification constraints."""
        return self.backbone.macro.constraints


def backbone_faults(macro: DetMacro, cnn: CNNMacro) -> list[tuple[str, str]]:
    """(key, message) for every way the detector macro does not fit the backbone macro."""
    count, faults = cnn.stages.count, []
    levels = macro.head.stage_indices(count)
    if not levels or min(levels) < 0 or max(levels) >= count or sorted(set(levels)) != levels:
        faults.append(("head.levels", f"{macro.head.levels} does not pick increasing stages of {count}"))
    if macro.anchors.levels is not None and len(macro.anchors.levels) != len(levels) + macro.head.extra_levels:
        want = len(levels) + macro.head.extra_levels
        faults.append(("anchors.levels", f"{len(macro.anchors.levels)} anchor levels for {want} pyramid levels"))
    stride = cnn.stem.stride * math.prod(max(int(s) for s in param_extremes(p)) for p in _stage_strides(cnn))
    for res in _reachable(macro.resolution):
        if int(res) % stride:
            faults.append(("resolution", f"{res} is not a multiple of the largest backbone stride {stride}"))
            break
    return faults


def _stage_strides(cnn: CNNMacro) -> list[Param]:
    """The stride sampler of each stage (a scalar or non-per-stage sampler applies to all)."""
    s = cnn.stages.stride
    return list(s) if isinstance(s, list) else [s] * cnn.stages.count


def knob_rng(backbone_json: str) -> np.random.Generator:
    """Generator for the head knobs: derived from the backbone alone, so the sweep's stream is untouched."""
    return np.random.default_rng(int.from_bytes(hashlib.sha256(backbone_json.encode()).digest()[:8], "little"))


def draw_det(macro: DetSpaceMacro, block: str, block_params: dict[str, Param], rng: np.random.Generator) -> dict:
    """Draw one detector: the backbone with the CNN draw on `rng`, the head knobs from the backbone's hash."""
    from hwbench.space.archspec import ArchSpec

    if not isinstance(macro, DetSpaceMacro):
        raise ValueError("a detector macro draws only inside a detector space (its `backbone:` names a CNN space)")
    backbone = ArchSpec.from_dict(draw_cnn(macro.backbone.macro, block, block_params, rng))
    levels = macro.head.stage_indices(len(backbone.arch.stages))  # type: ignore[attr-defined]
    return detector_dict("det", block, backbone, backbone.canonical_json, macro, levels)


def detector_dict(
    family: str, block: str, backbone: ArchSpec, knob_source: str, macro: DetMacro, levels: list[int]
) -> dict[str, Any]:
    """A detector's arch dict around a drawn backbone (both families): head knobs drawn from `knob_source`'s hash,
    the macro's anchors expanded to every pyramid level."""
    knobs = knob_rng(knob_source)
    head_type = draw_param(macro.head.type, knobs, 1)
    resolution = draw_param(macro.resolution, knobs, 1)
    width = draw_param(macro.head.width, knobs, 1)
    depth = draw_param(macro.head.depth, knobs, 1)
    return {
        "family": family,
        "block": block,
        "backbone": json.loads(backbone.canonical_json),
        "resolution": resolution,
        "in_channels": backbone.arch.in_channels,  # type: ignore[attr-defined]
        "num_classes": macro.num_classes,
        "head": {
            "type": head_type,
            "width": width,
            "depth": depth if head_type == "retinanet_lite" else 0,
            "act": macro.head.act,
            "levels": levels,
            "extra_levels": macro.head.extra_levels,
        },
        "anchors": {"levels": macro.anchors.expand(len(levels) + macro.head.extra_levels)},
    }


def backbone_stream(space: Any) -> str:
    """Random-stream key of a detector space: its backbone CNN space's name (the classification stream)."""
    return space.macro.backbone.space


def backbone_spec(spec: Any) -> Any:
    """The backbone CNN as an ArchSpec: complexity windows and duplicates are judged on it."""
    from hwbench.space.archspec import ArchSpec

    return ArchSpec(spec.arch.backbone)


FAMILIES.register("det")(
    Family(
        name="det",
        arch_model=DetArch,
        macro_model=DetMacro,
        draw=draw_det,  # type: ignore[arg-type]
        builder="hwbench.models.detector:build_detector",
        stream=backbone_stream,
        backbone=backbone_spec,
    )
)
