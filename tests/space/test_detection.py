"""The det family: backbones paired with the classification sweep, the pyramid, and detector-space file errors."""

from pathlib import Path

import pytest

from hwbench.errors import ConfigError
from hwbench.space.archspec import ArchSpec
from hwbench.space.design_space import load_space
from hwbench.space.detection import num_boxes, pyramid
from hwbench.space.sampling import sample_space
from tests.conftest import ROOT

# mbconv in the default suite; the other blocks pair the same way (a second, slower check).
BLOCKS = [
    "mbconv",
    *(
        pytest.param(b, marks=pytest.mark.extended)
        for b in ["mbconv_se", "fused_mbconv", "convnext", "resnet_bottleneck"]
    ),
]


@pytest.mark.parametrize("block", BLOCKS)
def test_backbones_pair_with_the_classification_sweep(block: str) -> None:
    det = sample_space(load_space(ROOT / "design_spaces" / f"det_{block}.yaml"), 5, seed=3)
    cls = sample_space(load_space(ROOT / "design_spaces" / f"{block}.yaml"), 5, seed=3)
    assert [ArchSpec(d.spec.arch.backbone).arch_id for d in det] == [c.spec.arch_id for c in cls]
    assert all(d.spec.family == "det" and d.spec.block == block for d in det)


def write_det(base: Path, detector: str, backbone: str = "tiny_mbconv.yaml") -> Path:
    """A detector space over the tiny CNN space of the conftest (2 stages, strides 4 and 8, resolution 32)."""
    path = base / "det_tiny.yaml"
    path.write_text(f"name: det_tiny\nbackbone: {backbone}\ndetector:\n{detector}")
    return path


TINY_DET = """\
  resolution: 32
  num_classes: 3
  head: {type: {choice: [ssdlite, retinanet_lite]}, width: {choice: [8, 16]}, depth: 1, levels: 2, extra_levels: 1}
  anchors: {preset: default, scale: 0.5}
"""


def test_sampled_head_knobs_keep_the_pairing(tiny_spaces: dict[str, Path]) -> None:
    space = load_space(write_det(tiny_spaces["mbconv"].parent, TINY_DET))
    det = sample_space(space, 8, seed=1)
    cls = sample_space(load_space(tiny_spaces["mbconv"]), 8, seed=1)
    assert [ArchSpec(d.spec.arch.backbone).arch_id for d in det] == [c.spec.arch_id for c in cls]
    heads = [d.spec.arch.head for d in det]
    assert {h.type for h in heads} == {"ssdlite", "retinanet_lite"}
    assert all(h.depth == (1 if h.type == "retinanet_lite" else 0) for h in heads)
    # Windows and duplicates are the classification ones; the stored complexity is the detector's own.
    assert space.constraints == load_space(tiny_spaces["mbconv"]).constraints
    assert all(d.complexity["macs"] > c.complexity["macs"] / 2 for d, c in zip(det, cls, strict=True))
    again = sample_space(space, 8, seed=1)
    assert [d.spec.arch_id for d in det] == [a.spec.arch_id for a in again]


def test_pyramid_and_boxes_by_hand(tiny_spaces: dict[str, Path]) -> None:
    spec = sample_space(load_space(write_det(tiny_spaces["mbconv"].parent, TINY_DET)), 1, seed=0)[0].spec
    arch = spec.arch
    widths = [s.width for s in arch.backbone.stages]
    # Stem stride 2, stages 2 and 2: strides 4, 8; one extra level: stride 16, ceil(4 / 2) = 2.
    assert [tuple(lv) for lv in pyramid(arch)] == [
        (4, 8, widths[0], 0),
        (8, 4, widths[1], 1),
        (16, 2, arch.head.width, None),
    ]
    assert arch.anchors.per_level == [4, 4, 4]  # default preset: 3 ratios + 1 larger square
    assert num_boxes(arch) == (64 + 16 + 4) * 4
    assert ArchSpec.from_json(spec.canonical_json).arch_id == spec.arch_id


def errors_of(path: Path) -> list[tuple[str | None, str | None, str]]:
    """(file name, key, message) of every fault load_space reports."""
    with pytest.raises(ConfigError) as err:
        load_space(path)
    return [
        (Path(e.source).name if e.source else None, e.key, e.message) for e in getattr(err.value, "errors", [err.value])
    ]


@pytest.mark.parametrize(
    ("detector", "key", "message"),
    [
        (TINY_DET.replace("scale: 0.5}", "levels: [[[1, 1]], [], [[1, 1]]]}"), "detector.anchors", "no preset options"),
        (
            "  anchors: {levels: [[[1, 1]], [], [[1, 1], [1, -2]]]}\n",
            "detector.anchors.levels.2.1.ratio",
            "greater than 0",
        ),
        (
            "  head: {levels: 2}\n  anchors: {levels: [[[1, 1]], [[1, 1]]]}\n",
            "detector.anchors.levels",
            "2 anchor levels for 3 pyramid",
        ),
        ("  head: {type: yolo}\n", "detector.head.type", "unknown head type 'yolo'"),
        ("  head: {levels: 3}\n", "detector.head.levels", "does not pick increasing stages of 2"),
        ("  resolution: 36\n", "detector.resolution", "not a multiple of the largest backbone stride 8"),
        ("  head: {width: 0}\n", "detector.head.width", "expected integers >= 1"),
        ("  backbone: {space: x}\n", "detector.backbone", "unknown key"),
        ("  head: {widht: 8}\n", "detector.head.widht", "unknown key"),
    ],
)
def test_bad_detector_names_file_and_key(tiny_spaces: dict[str, Path], detector: str, key: str, message: str) -> None:
    found = errors_of(write_det(tiny_spaces["mbconv"].parent, detector))
    assert any(f == "det_tiny.yaml" and (key is None or k == key) and message in m for f, k, m in found), found


def test_bad_detector_file_is_named(tiny_spaces: dict[str, Path]) -> None:
    base = tiny_spaces["mbconv"].parent
    (base / "macros" / "det.yaml").write_text("family: det\nanchors: {levels: [[[1, 1]], [], [[1, 0]]]}\n")
    path = base / "det_file.yaml"
    path.write_text("backbone: tiny_mbconv.yaml\ndetector: macros/det.yaml\n")
    assert ("det.yaml", "anchors.levels.2.0.ratio") in [(f, k) for f, k, _ in errors_of(path)]


@pytest.mark.parametrize(
    ("backbone", "message"),
    [
        ("missing.yaml", "backbone space file 'missing.yaml' not found"),
        ("fixed.yaml", "is a fixed architecture; a detector needs a CNN block space"),
    ],
)
def test_bad_backbone_is_named(tiny_spaces: dict[str, Path], backbone: str, message: str) -> None:
    base = tiny_spaces["mbconv"].parent
    (base / "fixed.yaml").write_text((ROOT / "design_spaces" / "fixed" / "mobilenet_v2.yaml").read_text())
    found = errors_of(write_det(base, "  num_classes: 3\n", backbone))
    assert [(f, k) for f, k, _ in found] == [("det_tiny.yaml", "backbone")]
    assert message in found[0][2]


def test_missing_backbone_and_wrong_family(tiny_spaces: dict[str, Path]) -> None:
    base = tiny_spaces["mbconv"].parent
    (base / "no_backbone.yaml").write_text("detector: {num_classes: 3}\n")
    assert [(f, k) for f, k, _ in errors_of(base / "no_backbone.yaml")] == [("no_backbone.yaml", "backbone")]
    found = errors_of(write_det(base, "  family: cnn\n"))
    assert ("det_tiny.yaml", "detector.family") in [(f, k) for f, k, _ in found]


def test_detector_defaults(tmp_path: Path) -> None:
    path = tmp_path / "det_default.yaml"
    path.write_text(f"backbone: {ROOT / 'design_spaces' / 'mbconv.yaml'}\n")
    arch = sample_space(load_space(path), 1, seed=0)[0].spec.arch
    assert (arch.resolution, arch.num_classes, arch.head.type, arch.head.levels) == (128, 10, "ssdlite", [1, 2, 3])
    assert arch.head.extra_levels == 1 and arch.anchors.per_level == [4, 4, 4, 4]
    assert [(a.scale, a.ratio) for a in arch.anchors.levels[0][:3]] == [(1, 1), (1, 2), (1, 0.5)]


def test_errors_inside_the_backbone_name_its_file(tiny_spaces: dict[str, Path]) -> None:
    base = tiny_spaces["mbconv"].parent
    (base / "broken.yaml").write_text("macro: macros/tiny.yaml\nblock: mbconv\nblock_params: {kernal: 3}\n")
    found = errors_of(write_det(base, "  num_classes: 3\n", "broken.yaml"))
    assert [(f, k) for f, k, _ in found] == [("broken.yaml", "block_params.kernal")]


def test_detector_macro_under_macro_is_refused(tiny_spaces: dict[str, Path]) -> None:
    base = tiny_spaces["mbconv"].parent
    path = base / "wrong.yaml"
    path.write_text(f"macro: {ROOT / 'design_spaces' / 'macros' / 'det.yaml'}\nblock: mbconv\n")
    assert [(f, k) for f, k, _ in errors_of(path)] == [("wrong.yaml", "macro")]


def test_stored_arch_validation() -> None:
    spec = sample_space(load_space(ROOT / "design_spaces" / "det_mbconv.yaml"), 1, seed=0)[0].spec
    data = spec.to_dict()
    for change, message in [
        ({"block": "convnext"}, "differs from the backbone's block"),
        ({"resolution": 100}, "not a multiple of the backbone stride 32"),
        ({"head": {**data["head"], "levels": [1, 4]}}, "stage 4 does not exist"),
        ({"head": {**data["head"], "depth": 2}}, "ssdlite takes depth 0"),
        ({"anchors": {"levels": data["anchors"]["levels"][:3]}}, "3 anchor levels for 4 pyramid levels"),
    ]:
        with pytest.raises(ConfigError, match=message):
            ArchSpec.from_dict({**data, **change})
