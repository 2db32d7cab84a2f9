"""The CNN stem: the optional ResNet max-pool, even (patchify) kernels, and unchanged arch_ids without them."""

import pytest
import torch

from hwbench.errors import ConfigError
from hwbench.models import build_model, example_input
from hwbench.models.complexity import complexity
from hwbench.space.archspec import ArchSpec


def tiny(stem: dict, block: str = "basic") -> dict:
    return {
        "family": "cnn",
        "block": block,
        "resolution": 32,
        "num_classes": 10,
        "stem": stem,
        "stages": [{"depth": 1, "width": 8, "stride": 1}],
        "head": {"width": 0},
    }


def test_max_pool_stem_with_a_basic_block_by_hand() -> None:
    spec = ArchSpec.from_dict(tiny({"width": 8, "kernel": 3, "stride": 2, "max_pool": True}))
    # stem 3x3 conv 3→8 on 16x16, pooled to 8x8; two 3x3 convs 8→8 on 8x8 (identity shortcut); linear 8→10
    macs = 3 * 8 * 9 * 256 + 2 * 8 * 8 * 9 * 64 + 8 * 10
    params = (3 * 8 * 9 + 16) + 2 * (8 * 8 * 9 + 16) + (8 * 10 + 10)
    cx = complexity(spec)
    assert (cx.macs, cx.params) == (macs, params)
    model = build_model(spec)
    assert model.stem(example_input(spec)).shape == (1, 8, 8, 8)
    assert spec.arch.stem.total_stride == 4


def test_patchify_stem_tiles_the_input() -> None:
    spec = ArchSpec.from_dict(tiny({"width": 8, "kernel": 4, "stride": 4, "act": "identity"}, "convnext"))
    model = build_model(spec)
    assert model.stem(example_input(spec)).shape == (1, 8, 8, 8)
    assert model.stem[0].padding == (0, 0)
    assert isinstance(model.stem[2], torch.nn.Identity)


def test_even_kernel_that_cannot_tile_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"stem.*even stem kernel"):
        ArchSpec.from_dict(tiny({"width": 8, "kernel": 4, "stride": 1}))


def test_a_stem_without_pool_stores_as_before() -> None:
    """The key is written only when set, so networks stored before the option keep their arch_id."""
    plain = ArchSpec.from_dict(tiny({"width": 8}))
    assert "max_pool" not in plain.to_dict()["stem"]
    pooled = ArchSpec.from_dict(tiny({"width": 8, "max_pool": True}))
    assert pooled.to_dict()["stem"]["max_pool"] is True
    assert ArchSpec.from_json(pooled.canonical_json).arch_id == pooled.arch_id != plain.arch_id


def test_total_stride_counts_the_pool() -> None:
    arch = {**tiny({"width": 8, "stride": 4}), "resolution": 16, "stages": [{"depth": 1, "width": 8, "stride": 4}]}
    ArchSpec.from_dict(arch)  # 4 x 4 = 16 fits
    with pytest.raises(ConfigError, match="total stride 32 exceeds the input resolution 16"):
        ArchSpec.from_dict({**arch, "stem": {"width": 8, "stride": 4, "max_pool": True}})
