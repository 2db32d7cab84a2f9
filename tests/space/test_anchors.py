"""Anchors as data: hand-counted boxes, hand-placed geometry and order, presets, bad entries named by key."""

import math

import numpy as np
import pytest

from hwbench.config import parse_model
from hwbench.errors import ConfigError
from hwbench.space.anchors import AnchorPreset, AnchorSpec, boxes_per_level, count_boxes, generate, preset_level


def spec(*levels: list[tuple[float, float]]) -> AnchorSpec:
    """An AnchorSpec from per-level lists of (scale, ratio)."""
    return AnchorSpec.model_validate({"levels": [[list(a) for a in level] for level in levels]})


@pytest.mark.parametrize(
    ("levels", "sizes", "per_level"),
    [
        # 2 anchors on 4x4 cells, 1 on 2x2 cells: 32 + 4.
        ([[(1, 1), (1, 2)], [(1, 1)]], [4, 2], [32, 4]),
        # An empty level, a 3-row x 5-column map with 3 anchors, a 1x1 map with 1: 0 + 45 + 1.
        ([[], [(0.5, 1), (1, 1), (2, 0.5)], [(1, 1)]], [8, (3, 5), 1], [0, 45, 1]),
    ],
)
def test_counts_match_hand_counts(levels: list, sizes: list, per_level: list[int]) -> None:
    s = spec(*levels)
    assert boxes_per_level(s, sizes) == per_level
    assert count_boxes(s, sizes) == sum(per_level)
    strides = [8 * 2**i for i in range(len(levels))]
    assert generate(s, strides, sizes).shape == (sum(per_level), 4)


def test_geometry_and_order_by_hand() -> None:
    # Level 0: stride 8, one row of two cells, anchors (1, 1) then (0.25, 4); level 1: stride 16, one cell.
    s = spec([(1, 1), (0.25, 4)], [(0.5, 1)])
    boxes = generate(s, [8, 16], [(1, 2), 1])
    # (1, 1): side 32 centred on (4, 4); (0.25, 4): side 8, w = 8*2 = 16, h = 8/2 = 4.
    expected = [
        [-12, -12, 20, 20],  # y0 x0 anchor 0
        [-4, 2, 12, 6],  # y0 x0 anchor 1
        [-4, -12, 28, 20],  # y0 x1 anchor 0 (centre 12, 4)
        [4, 2, 20, 6],  # y0 x1 anchor 1
        [-8, -8, 24, 24],  # level 1: side 0.5*4*16 = 32 centred on (8, 8)
    ]
    assert boxes.dtype == np.float32
    np.testing.assert_allclose(boxes, expected, atol=1e-5)


def test_rows_before_columns() -> None:
    boxes = generate(spec([(0.25, 1)]), [8], [2])
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    np.testing.assert_allclose(centres, [[4, 4], [12, 4], [4, 12], [12, 12]])  # (x, y): x varies fastest


def test_ratio_is_width_over_height_and_area_is_side_squared() -> None:
    level = preset_level("overanchorized")
    boxes = generate(AnchorSpec(levels=[level]), [16], [1])
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    for anchor, wi, hi in zip(level, w, h, strict=True):
        assert wi / hi == pytest.approx(anchor.ratio, rel=1e-5)
        assert math.sqrt(wi * hi) == pytest.approx(anchor.scale * 4 * 16, rel=1e-5)


def test_presets() -> None:
    default = preset_level("default")
    assert [(a.scale, a.ratio) for a in default] == [(1, 1), (1, 2), (1, 0.5), (pytest.approx(2**0.5), 1)]
    assert len(preset_level("overanchorized")) == 15  # 3 scales x 5 ratios
    grid = AnchorPreset(preset="overanchorized", scale=0.5, scales=[1, 2], ratios=[0.5, 1, 2]).expand(3)
    assert len(grid) == 3 and all(len(level) == 6 for level in grid)
    assert [(a["scale"], a["ratio"]) for a in grid[0][:4]] == [(0.5, 0.5), (0.5, 1), (0.5, 2), (1.0, 0.5)]
    explicit = AnchorPreset(levels=[[[1, 1]], []]).expand(2)
    assert explicit == [[{"scale": 1.0, "ratio": 1.0}], []]


@pytest.mark.parametrize("bad", [-2, 0, float("nan"), float("inf"), "wide"])
def test_bad_ratio_names_the_key(bad: object) -> None:
    data = {"levels": [[[1, 1]], [], [[1, 1], [1, bad]]]}
    with pytest.raises(ConfigError) as err:
        parse_model(AnchorSpec, data, "space.yaml", "anchors")
    assert err.value.source == "space.yaml"
    assert err.value.key == "anchors.levels.2.1.ratio"


def test_bad_scale_and_shape_name_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        parse_model(AnchorSpec, {"levels": [[{"scale": 0, "ratio": 1}]]}, "f.yaml", "anchors")
    assert err.value.key == "anchors.levels.0.0.scale"
    with pytest.raises(ConfigError, match=r"\[scale, ratio\]"):
        parse_model(AnchorSpec, {"levels": [[[1, 1, 1]]]}, "f.yaml", "anchors")


def test_at_least_one_anchor_and_matching_level_counts() -> None:
    with pytest.raises(ConfigError, match="at least one anchor"):
        parse_model(AnchorSpec, {"levels": [[], []]}, "f.yaml", "anchors")
    with pytest.raises(ValueError, match="2 anchor levels for 3 pyramid strides"):
        generate(spec([(1, 1)], []), [8, 16, 32], [4, 2, 1])
    with pytest.raises(ConfigError, match="no preset options"):
        parse_model(AnchorPreset, {"preset": "default", "levels": [[[1, 1]]]}, "f.yaml", "anchors")
    with pytest.raises(ConfigError) as err:
        parse_model(AnchorPreset, {"ratios": [1, -1]}, "f.yaml", "anchors")
    assert err.value.key == "anchors.ratios"
