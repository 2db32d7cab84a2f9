"""Anchors as data: per pyramid level an explicit list of (scale, ratio) pairs, and the boxes they make.

Geometry (fixed, every count derives from it):
- an anchor's side is ``scale × 4 × stride`` of its level (scale 1 on stride 8 is 32 px, as in RetinaNet);
- its width is ``side·sqrt(ratio)`` and its height ``side/sqrt(ratio)``, so ``ratio = w/h`` and the area is side²;
- it is centred on every cell of its level: ``((x + 0.5)·stride, (y + 0.5)·stride)`` in input pixels.

Order of the generated boxes (the detector head outputs in the same order): level, then row y, then column x,
then the anchor's position in its level's list. A level may have zero anchors; a spec needs at least one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from hwbench.config import Strict

PresetName = Literal["default", "overanchorized"]

# The default preset's shapes at the base scale, plus one larger square (SSD's extra box between two levels).
DEFAULT_RATIOS = (1.0, 2.0, 0.5)
DEFAULT_EXTRA_SCALE = math.sqrt(2.0)
# The overanchorized grid (our own: the anchor-pruning paper's sets are not public): 3 octave scales x 5 ratios.
OVER_SCALES = (1.0, 2 ** (1 / 3), 2 ** (2 / 3))
OVER_RATIOS = (0.25, 0.5, 1.0, 2.0, 4.0)

Size = int | tuple[int, int]


class Anchor(Strict):
    """One anchor shape of a level: scale (side = scale × 4 × stride) and ratio (w/h)."""

    scale: float = Field(gt=0, allow_inf_nan=False)
    ratio: float = Field(gt=0, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, data: Any) -> Any:
        """Accept the short form [scale, ratio]."""
        if isinstance(data, (list, tuple)):
            if len(data) != 2:
                raise ValueError(f"an anchor is [scale, ratio] or {{scale, ratio}}, got {list(data)}")
            return {"scale": data[0], "ratio": data[1]}
        return data


class AnchorSpec(Strict):
    """Per pyramid level, the explicit list of anchors placed on every cell of that level."""

    levels: list[list[Anchor]] = Field(min_length=1, max_length=12)

    @model_validator(mode="after")
    def _some_anchor(self) -> AnchorSpec:
        if not any(self.levels):
            raise ValueError("levels: every level is empty; a detector needs at least one anchor")
        return self

    @property
    def per_level(self) -> list[int]:
        """Number of anchors per location, per level."""
        return [len(level) for level in self.levels]


class AnchorPreset(Strict):
    """How a macro asks for anchors: a preset expanded per level, or explicit per-level lists."""

    preset: PresetName | None = None  # None and no `levels`: the default preset
    # Multiplies every scale of the preset (e.g. 0.5 for small inputs where scale 1 boxes are too large).
    scale: float = Field(1.0, gt=0, allow_inf_nan=False)
    # Preset options: the base scales (overanchorized) and the ratios of the grid; None: the preset's own.
    scales: list[float] | None = Field(None, min_length=1)
    ratios: list[float] | None = Field(None, min_length=1)
    levels: list[list[Anchor]] | None = None

    @field_validator("scales", "ratios")
    @classmethod
    def _positive(cls, values: list[float] | None) -> list[float] | None:
        if values is not None and not all(math.isfinite(v) and v > 0 for v in values):
            raise ValueError(f"every value must be finite and > 0, got {values}")
        return values

    @model_validator(mode="after")
    def _one_form(self) -> AnchorPreset:
        options = [k for k in ("preset", "scale", "scales", "ratios") if k in self.model_fields_set]
        if self.levels is not None and options:
            raise ValueError(f"explicit `levels` take no preset options (got {', '.join(options)})")
        return self

    def expand(self, num_levels: int) -> list[list[dict[str, float]]]:
        """Explicit per-level anchors (as plain dicts) for a pyramid of `num_levels` levels."""
        if self.levels is not None:
            return [[a.model_dump() for a in level] for level in self.levels]
        one = preset_level(self.preset or "default", self.scale, self.scales, self.ratios)
        return [[a.model_dump() for a in one] for _ in range(num_levels)]


def preset_level(
    preset: PresetName, scale: float = 1.0, scales: Sequence[float] | None = None, ratios: Sequence[float] | None = None
) -> list[Anchor]:
    """The anchors one level gets from a preset (scale-major, ratio-minor)."""
    if preset == "default":
        base = [scale * s for s in (scales or (1.0,))]
        grid = [Anchor(scale=s, ratio=r) for s in base for r in (ratios or DEFAULT_RATIOS)]
        return [*grid, Anchor(scale=base[-1] * DEFAULT_EXTRA_SCALE, ratio=1.0)]
    return [Anchor(scale=scale * s, ratio=r) for s in (scales or OVER_SCALES) for r in (ratios or OVER_RATIOS)]


def _hw(size: Size) -> tuple[int, int]:
    """(height, width) of a feature map given as an int (square) or a pair."""
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _check_levels(spec: AnchorSpec, count: int, what: str) -> None:
    if len(spec.levels) != count:
        raise ValueError(f"anchors.levels: {len(spec.levels)} anchor levels for {count} pyramid {what}")


def boxes_per_level(spec: AnchorSpec, feature_sizes: Sequence[Size]) -> list[int]:
    """Number of boxes each level contributes: cells × anchors per cell."""
    _check_levels(spec, len(feature_sizes), "feature sizes")
    return [math.prod(_hw(size)) * len(level) for level, size in zip(spec.levels, feature_sizes, strict=True)]


def count_boxes(spec: AnchorSpec, feature_sizes: Sequence[Size]) -> int:
    """Total number of boxes (anchors over every cell of every level)."""
    return sum(boxes_per_level(spec, feature_sizes))


def level_boxes(anchors: Sequence[Anchor], stride: float, size: Size) -> np.ndarray:
    """Boxes of one level, [h·w·A, 4] xyxy float32, in (y, x, anchor) order."""
    h, w = _hw(size)
    if not anchors:
        return np.zeros((0, 4), np.float32)
    scale = np.array([a.scale for a in anchors], np.float64)
    root = np.sqrt(np.array([a.ratio for a in anchors], np.float64))
    side = scale * 4.0 * stride
    half_w, half_h = side * root / 2, side / root / 2
    cy = ((np.arange(h) + 0.5) * stride)[:, None, None]
    cx = ((np.arange(w) + 0.5) * stride)[None, :, None]
    shape = (h, w, len(anchors))
    boxes = np.stack(
        [
            np.broadcast_to(cx - half_w, shape),
            np.broadcast_to(cy - half_h, shape),
            np.broadcast_to(cx + half_w, shape),
            np.broadcast_to(cy + half_h, shape),
        ],
        axis=-1,
    )
    return boxes.reshape(-1, 4).astype(np.float32)


def generate(spec: AnchorSpec, strides: Sequence[float], feature_sizes: Sequence[Size]) -> np.ndarray:
    """Every anchor box, [N, 4] xyxy float32 in input pixels, ordered level, y, x, anchor."""
    _check_levels(spec, len(strides), "strides")
    _check_levels(spec, len(feature_sizes), "feature sizes")
    parts = [
        level_boxes(level, stride, size)
        for level, stride, size in zip(spec.levels, strides, feature_sizes, strict=True)
    ]
    return np.concatenate(parts, axis=0)
