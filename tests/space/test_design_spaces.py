"""Every file in design_spaces/: loads, samples deterministically within its constraints, builds and runs."""

from pathlib import Path

import pytest
import torch

from hwbench.models import build_model, example_input
from hwbench.models.complexity import complexity
from hwbench.paths import listing
from hwbench.space.design_space import load_space
from hwbench.space.sampling import sample_space, window_spec

FILES = listing("design_spaces")


def _case(path: Path) -> object:
    """A heavy reference network (over 2 GMACs published) builds and runs only in the extended suite; the
    default suite counts it (tests/models/test_reference_zoo.py)."""
    from hwbench.config import load_yaml, quantity

    macs = (load_yaml(path).get("published") or {}).get("macs")
    heavy = macs is not None and quantity(macs) > 2e9
    return pytest.param(path, marks=pytest.mark.extended) if heavy else path


def test_there_are_five_cnn_block_spaces() -> None:
    blocks = {load_space(p).block for p in FILES if load_space(p).fixed is None and load_space(p).family == "cnn"}
    assert {"mbconv", "mbconv_se", "fused_mbconv", "resnet_bottleneck", "convnext"} <= blocks


def test_there_are_four_vit_spaces() -> None:
    blocks = {load_space(p).block for p in FILES if load_space(p).fixed is None and load_space(p).family == "vit"}
    assert blocks == {"vit", "vit_tome", "vit_ltmp", "vit_mlp_prune"}


@pytest.mark.parametrize("family", ["cnn", "vit"])
def test_block_spaces_share_one_macro(family: str) -> None:
    """Only the block differs: every block space of a family names the same macro file."""
    from hwbench.config import load_yaml

    spaces = [p for p in FILES if "macro" in load_yaml(p) and load_space(p).family == family]
    assert len(spaces) >= 4
    assert len({(p.parent / load_yaml(p)["macro"]).resolve() for p in spaces}) == 1


@pytest.mark.parametrize(
    "path",
    [_case(p) for p in FILES],
    ids=lambda p: str(p.relative_to(p.parents[1] if "fixed" in p.parts else p.parent)),
)
def test_space_samples_and_builds(path: Path) -> None:
    space = load_space(path)
    samples = sample_space(space, 3 if space.fixed is None else 1, seed=0)
    again = sample_space(space, 3 if space.fixed is None else 1, seed=0)
    assert [s.spec.arch_id for s in samples] == [s.spec.arch_id for s in again]
    assert len({s.spec.arch_id for s in samples}) == len(samples)
    for s in samples:
        assert s.spec.block == space.block
        # Windows bound the backbone (for a ViT: the dense network; its own MACs may be lower).
        assert space.constraints.violated(complexity(window_spec(space, s.spec)).as_dict()) is None
        assert s.complexity == complexity(s.spec).as_dict()
    spec = samples[0].spec
    model = build_model(spec)
    with torch.no_grad():
        out = model(example_input(spec))
    from hwbench.space.det_vit import DETECTOR_FAMILIES, boxes_per_image

    if spec.family in DETECTOR_FAMILIES:  # a detector: (boxes [1, N, 4], scores [1, N, C]), one row per anchor
        boxes, scores = out
        n = boxes_per_image(spec.arch)
        assert boxes.shape == (1, n, 4) and scores.shape == (1, n, spec.arch.num_classes)
        out = torch.cat([boxes, scores], -1)
    else:
        assert out.shape == (1, spec.arch.num_classes)
    assert torch.isfinite(out).all()
    assert complexity(spec).params == sum(p.numel() for p in model.parameters())
