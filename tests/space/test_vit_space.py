"""The ViT family: paired backbones across token mechanisms, arch and macro validation with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbench.errors import ConfigError
from hwbench.space.archspec import ArchSpec
from hwbench.space.design_space import load_space
from hwbench.space.sampling import sample_space
from hwbench.space.vit import dense_counterpart
from tests.vit_helpers import TINY

MACRO = """\
family: vit
resolution: 32
num_classes: 10
patch: 8
depth: {uniform_int: [2, 4]}
width: {choice: [16, 32]}
heads: {choice: [1, 2]}
mlp_ratio: {choice: [2, 4]}
constraints: {macs: {max: 2M}, max_attempts: 200}
"""


def write_spaces(base: Path, macro: str = MACRO) -> dict[str, Path]:
    (base / "macros").mkdir(parents=True)
    (base / "macros" / "vit.yaml").write_text(macro)
    knobs = {
        "vit": "",
        "vit_tome": "block_params: {r: {choice: [1, 2, 3]}, schedule: {choice: [constant, decreasing]}}\n",
        "vit_ltmp": "block_params: {flops_target: {choice: [0.5, 0.8]}}\n",
        "vit_mlp_prune": "block_params: {skip_first: 1, keep_ratio: {choice: [0.5, 0.7]}}\n",
    }
    paths = {}
    for block, extra in knobs.items():
        paths[block] = base / f"tiny_{block}.yaml"
        paths[block].write_text(f"name: tiny_{block}\nmacro: macros/vit.yaml\nblock: {block}\n{extra}")
    return paths


def test_spaces_sharing_a_macro_draw_the_same_backbones(tmp_path: Path) -> None:
    """Sample i of every token-reduced space is sample i of the plain space with the mechanism added."""
    paths = write_spaces(tmp_path)
    dense = [s.spec.arch_id for s in sample_space(load_space(paths["vit"]), 5, seed=3)]
    assert len(set(dense)) == 5
    for block in ("vit_tome", "vit_ltmp", "vit_mlp_prune"):
        samples = sample_space(load_space(paths[block]), 5, seed=3)
        assert [dense_counterpart(s.spec).arch_id for s in samples] == dense
        assert {s.spec.block for s in samples} == {block}
    tome = sample_space(load_space(paths["vit_tome"]), 5, seed=3)
    assert len({(s.spec.arch.params["r"], s.spec.arch.params["schedule"]) for s in tome}) > 1  # knobs vary
    assert [s.spec.arch_id for s in sample_space(load_space(paths["vit"]), 5, seed=4)] != dense


def test_tome_stores_its_own_macs_below_the_backbones(tmp_path: Path) -> None:
    paths = write_spaces(tmp_path)
    dense = sample_space(load_space(paths["vit"]), 4, seed=0)
    tome = sample_space(load_space(paths["vit_tome"]), 4, seed=0)
    assert all(t.complexity["macs"] < d.complexity["macs"] for t, d in zip(tome, dense))
    assert all(t.complexity["params"] == d.complexity["params"] for t, d in zip(tome, dense))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"width": 30, "heads": 4}, "width 30 is not a multiple of heads 4"),
        ({"resolution": 30}, "resolution 30 is not a multiple of the patch size 8"),
        ({"block": "vit_tom"}, "did you mean 'vit_tome'"),
        ({"block": "mbconv"}, "unknown vit block 'mbconv'"),
        ({"block": "vit_tome", "params": {"r": -1}}, "params.r"),
        ({"block": "vit_tome", "params": {"rr": 1}}, "params.rr"),
        ({"block": "vit_mlp_prune", "params": {"skip_first": 4}}, "skip_first 4 must be below depth 4"),
    ],
)
def test_invalid_archs_name_the_problem(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ArchSpec.from_dict({**TINY, "depth": 4, "block": "vit", **change}, "arch.yaml")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("width: {choice: [16, 32]}", "width: {choice: [16, 31]}", "width 31 is not a multiple of heads 2"),
        ("width: {choice: [16, 32]}", "width: {log_uniform: [16, 64], quantize: 3}", "quantize widths"),
        ("depth: {uniform_int: [2, 4]}", "depth: {uniform_int: [2, 4], per_stage: true}", "no per_stage"),
        ("patch: 8", "patch: 7", "not a multiple of the patch size 7"),
    ],
)
def test_invalid_macros_fail_at_load_naming_the_file(tmp_path: Path, old: str, new: str, message: str) -> None:
    paths = write_spaces(tmp_path, MACRO.replace(old, new))
    with pytest.raises(ConfigError, match=message):
        load_space(paths["vit"])


def test_the_pruner_must_prune_somewhere(tmp_path: Path) -> None:
    paths = write_spaces(tmp_path)
    paths["vit_mlp_prune"].write_text("macro: macros/vit.yaml\nblock: vit_mlp_prune\nblock_params: {skip_first: 5}\n")
    with pytest.raises(ConfigError, match="skip_first 5 must be below depth"):
        load_space(paths["vit_mlp_prune"])
