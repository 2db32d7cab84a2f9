"""ViT sweeps train at the schedule's resolution (issue 11: the README's ViT example failed at 32 px)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from hwbench.errors import ConfigError
from hwbench.models import build_model
from hwbench.pipeline.sample import SweepArch
from hwbench.pipeline.training_plan import at_resolution, check_resolution
from hwbench.space.design_space import load_space
from hwbench.space.sampling import sample_space
from tests.conftest import ROOT

VIT_SPACES = ["vit", "vit_tome", "vit_ltmp", "vit_mlp_prune"]


def _plan(resolution: int) -> SimpleNamespace:
    return SimpleNamespace(schedule=SimpleNamespace(spec=SimpleNamespace(resolution=resolution), source="s.yaml"))


@pytest.mark.parametrize("name", VIT_SPACES)
def test_vit_space_passes_the_check_and_trains_a_step_at_32px(name: str) -> None:
    space = load_space(ROOT / "design_spaces" / f"{name}.yaml")
    spec = sample_space(space, 1, 0)[0].spec
    check_resolution([SweepArch(name, 0, spec)], _plan(32))  # raised "broadcast ... 197" before
    trained = at_resolution(spec, 32)
    assert trained.arch.num_tokens == 5 and spec.arch.num_tokens == 197  # 2×2 patches + class token vs 14×14 + 1
    model = build_model(trained, seed=0).train()
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    loss = loss + model.auxiliary_loss()
    loss.backward()
    assert torch.isfinite(loss) and model.pos_embed.grad is not None


def test_resolution_below_the_patch_size_is_a_config_error() -> None:
    spec = sample_space(load_space(ROOT / "design_spaces" / "vit.yaml"), 1, 0)[0].spec
    with pytest.raises(ConfigError, match=r"s.yaml: resolution: 8 px is too small for network "):
        check_resolution([SweepArch("vit", 0, spec)], _plan(8))  # smaller than one 16 px patch


def test_accuracy_record_states_trained_and_timed_tokens() -> None:
    from hwbench.pipeline.train import _token_counts

    vit = sample_space(load_space(ROOT / "design_spaces" / "vit_tome.yaml"), 1, 0)[0].spec
    assert _token_counts(vit, 32) == {"tokens": 5, "space_tokens": 197}
    cnn = sample_space(load_space(ROOT / "design_spaces" / "mbconv.yaml"), 1, 0)[0].spec
    assert _token_counts(cnn, 32) == {}
