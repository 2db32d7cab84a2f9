"""Hybrid networks and spaces: the block (and its knobs) chosen per stage; validation names file and key."""

from pathlib import Path

import numpy as np
import pytest

from hwbench.blocks import block_names, get_block
from hwbench.blocks.hybrid import pick_knobs
from hwbench.errors import ConfigError
from hwbench.space.archspec import ArchSpec
from hwbench.space.cnn import draw_cnn
from hwbench.space.design_space import load_space
from hwbench.space.sampling import sample_space

ROOT = Path(__file__).resolve().parents[2]
MACRO = ROOT / "design_spaces" / "macros" / "cnn.yaml"


def hybrid_arch(*stage_params: dict) -> dict:
    return {
        "family": "cnn",
        "block": "hybrid",
        "resolution": 32,
        "num_classes": 10,
        "stem": {"width": 8},
        "stages": [{"depth": 1, "width": 8 * (i + 1), "stride": 2, "params": p} for i, p in enumerate(stage_params)],
        "head": {"width": 0},
    }


def test_stage_params_are_the_chosen_blocks_with_defaults() -> None:
    spec = ArchSpec.from_dict(hybrid_arch({"block": "fused_mbconv"}, {"block": "mbconv_se", "kernel": 5}))
    first, second = (s.params for s in spec.arch.stages)
    assert first == {"block": "fused_mbconv", "expansion": 4, "kernel": 3, "act": "silu"}
    assert second == {"block": "mbconv_se", "expansion": 6, "kernel": 5, "act": "silu", "se_ratio": 0.25}
    assert ArchSpec.from_json(spec.canonical_json).arch_id == spec.arch_id


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({}, r"stages\.0\.params\.block: Field required"),
        ({"block": "mbconf"}, r"stages\.0\.params: .*did you mean 'mbconv'"),
        ({"block": "hybrid"}, r"stages\.0\.params: .*'hybrid'"),  # no nesting
        ({"block": "mbconv", "se_ratio": 0.5}, r"stages\.0\.params: se_ratio: Extra inputs .*\(block mbconv\)"),
        ({"block": "fused_mbconv", "kernel": 4}, r"stages\.0\.params: kernel: .*kernel must be odd"),
    ],
)
def test_bad_stage_params_name_the_stage(params: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ArchSpec.from_dict(hybrid_arch(params), "net.yaml")


def test_hybrid_is_not_a_block_of_its_own() -> None:
    """Registry-wide block tests skip it; it versions with every block it wraps."""
    assert "hybrid" not in block_names("cnn") and "hybrid" in block_names("cnn", composite=True)
    assert get_block("hybrid").version == sum(get_block(b).version for b in block_names("cnn"))


def test_pick_knobs_keeps_the_chosen_blocks_knobs() -> None:
    drawn = {"block": "mbconv", "kernel": 5, "se_ratio": 0.5, "mbconv.expansion": 3, "fused_mbconv.expansion": 2}
    assert pick_knobs(drawn) == {"block": "mbconv", "kernel": 5, "expansion": 3}
    # a block's own knob wins over the plain one
    assert pick_knobs({"block": "fused_mbconv", "act": "relu", "fused_mbconv.act": "silu"})["act"] == "silu"


def write_space(tmp_path: Path, block_params: str) -> Path:
    path = tmp_path / "hy.yaml"
    path.write_text(f"macro: {MACRO}\nblock: hybrid\nblock_params:\n{block_params}")
    return path


def test_the_hybrid_space_samples_blocks_per_stage_reproducibly() -> None:
    space = load_space(ROOT / "design_spaces" / "hybrid.yaml")
    first, again = sample_space(space, 6, seed=4), sample_space(space, 6, seed=4)
    blocks = [[s.params["block"] for s in x.spec.arch.stages] for x in first]
    assert [x.spec.arch_id for x in first] == [x.spec.arch_id for x in again]
    assert blocks == [[s.params["block"] for s in x.spec.arch.stages] for x in again]
    assert [x.spec.arch_id for x in sample_space(space, 3, seed=4)] == [x.spec.arch_id for x in first[:3]]
    assert [x.spec.arch_id for x in sample_space(space, 6, seed=5)] != [x.spec.arch_id for x in first]
    assert any(len(set(row)) > 1 for row in blocks)  # networks mix blocks
    # Before the complexity windows (which favour some blocks), every listed block is drawn at every stage.
    rng = np.random.default_rng(0)
    drawn = [[s.params["block"] for s in space.draw(rng).arch.stages] for _ in range(30)]
    assert all({row[i] for row in drawn} == {"mbconv", "mbconv_se", "fused_mbconv"} for i in range(4))


def test_the_macro_draw_is_the_single_block_spaces() -> None:
    """Same generator state → same resolution, stem, depths, widths, strides and head as the mbconv space."""
    hybrid, mbconv = (
        load_space(ROOT / "design_spaces" / "hybrid.yaml"),
        load_space(ROOT / "design_spaces" / "mbconv.yaml"),
    )
    for seed in range(5):
        a = draw_cnn(hybrid.macro, "hybrid", hybrid.block_params, np.random.default_rng(seed))  # type: ignore[arg-type]
        b = draw_cnn(mbconv.macro, "mbconv", mbconv.block_params, np.random.default_rng(seed))  # type: ignore[arg-type]
        strip = lambda d: {**d, "block": None, "stages": [{**s, "params": None} for s in d["stages"]]}  # noqa: E731
        assert strip(a) == strip(b)


def test_knobs_go_to_their_block(tmp_path: Path) -> None:
    path = write_space(
        tmp_path,
        "  block: [fused_mbconv, fused_mbconv, mbconv_se, mbconv_se]\n"
        "  kernel: 5\n  se_ratio: 0.5\n  fused_mbconv.expansion: {choice: [1, 2]}\n",
    )
    for sample in sample_space(load_space(path), 3, seed=0):
        stages = [s.params for s in sample.spec.arch.stages]
        assert [p["block"] for p in stages] == ["fused_mbconv", "fused_mbconv", "mbconv_se", "mbconv_se"]
        assert all(p["kernel"] == 5 for p in stages)
        assert stages[0]["expansion"] in (1, 2) and "se_ratio" not in stages[0]
        assert stages[2]["se_ratio"] == 0.5 and stages[2]["expansion"] == 6  # mbconv_se's default


@pytest.mark.parametrize(
    ("block_params", "key", "match"),
    [
        ("  kernel: 3\n", "block_params.block", "required"),
        ("  block: {choice: [mbconv, mbconf]}\n", "block_params.block", "did you mean 'mbconv'"),
        ("  block: {choice: [mbconv]}\n  convnext.kernel: 7\n", "block_params.convnext.kernel", "not among"),
        ("  block: {choice: [mbconv, basic]}\n  expanse: 3\n", "block_params.expanse", "did you mean 'expansion'"),
        ("  block: {choice: [mbconv, basic]}\n  kernel: {choice: [3, 4]}\n", "block_params.kernel", "odd"),
        ("  block: {choice: [mbconv]}\n  mbconv.se_ratio: 0.5\n", "block_params.mbconv.se_ratio", "se_ratio"),
    ],
)
def test_bad_hybrid_space_names_file_and_key(tmp_path: Path, block_params: str, key: str, match: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_space(write_space(tmp_path, block_params))
    text = str(info.value)
    assert "hy.yaml" in text and key in text and match in text, text


def test_a_detector_space_takes_a_hybrid_backbone(tmp_path: Path) -> None:
    """Its backbones are the hybrid classification sweep's, as for any CNN block space."""
    path = tmp_path / "det_hybrid.yaml"
    spaces = ROOT / "design_spaces"
    path.write_text(f"backbone: {spaces / 'hybrid.yaml'}\ndetector: {spaces / 'macros' / 'det.yaml'}\n")
    det = sample_space(load_space(path), 2, seed=1)
    cls = sample_space(load_space(spaces / "hybrid.yaml"), 2, seed=1)
    assert [d.spec.block for d in det] == ["hybrid", "hybrid"]
    assert [d.spec.arch.backbone for d in det] == [c.spec.arch for c in cls]
