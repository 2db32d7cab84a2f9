"""Training pieces: LTMP's threshold-only groups, clamping and budget loss; the pruner's keep-ratio loss."""

from __future__ import annotations

import pytest
import torch

from hwbench.blocks.tokens.ltmp import flops_loss, flops_ratio
from hwbench.blocks.tokens.prune import keep_ratio_loss
from hwbench.models.token_training import (
    clamp_thresholds,
    fit_thresholds,
    last_flops_ratio,
    selector_parameters,
    threshold_param_groups,
)
from tests.vit_helpers import N, images, set_ltmp, tiny_model


def batches(n: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(4, 3, 32, 32, generator=g), torch.randint(0, 10, (4,), generator=g)) for _ in range(n)]


def test_flops_ratio_counts_attention_on_the_previous_blocks_tokens() -> None:
    """Hand-computed: 2 blocks, N = 4, C = 2, MLP ratio 1; block 1 keeps 2 tokens, block 2 keeps 1."""
    masks = [torch.tensor([[1.0, 1, 0, 0]]), torch.tensor([[1.0, 0]])]
    dense = 4 * 4 * 4 + 2 * 16 * 2 + 2 * 4 * 4  # qkv+proj, attention, MLP at N = 4
    first = (4 * 4 * 4 + 2 * 16 * 2 + 2 * 2 * 4) / dense
    second = (4 * 2 * 4 + 2 * 4 * 2 + 2 * 1 * 4) / dense
    assert flops_ratio(masks, 4, 2, 1.0).item() == pytest.approx((first + second) / 2)
    assert flops_loss(torch.tensor([0.5, 0.7]), 0.4, 10.0).item() == pytest.approx(10 * 0.2**2)


def test_keep_ratio_loss_averages_over_the_batch_then_the_blocks() -> None:
    keeps = [torch.tensor([[1.0, 1, 1, 0, 0], [1.0, 0, 0, 0, 0]]), torch.tensor([[1.0, 1, 1, 1, 1], [1.0, 1, 1, 1, 1]])]
    # block 1 keeps 2/4 and 0/4 of the patch tokens (batch mean 0.25), block 2 keeps all
    assert keep_ratio_loss(keeps, [0.5, 0.5], 4.0).item() == pytest.approx(4 * ((0.25 - 0.5) ** 2 + 0.5**2) / 2)


def test_only_thresholds_train_with_their_own_learning_rates() -> None:
    model = tiny_model("vit_ltmp")
    groups = threshold_param_groups(model, merge_lr=1e-2, prune_lr=1e-5)
    assert [(g["name"], g["lr"], len(g["params"])) for g in groups] == [("merge", 1e-2, 4), ("prune", 1e-5, 4)]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert len(trainable) == 8 and all(n.endswith("_threshold") for n in trainable)
    set_ltmp(model, merge=1.7, prune=-0.3)
    clamp_thresholds(model)
    assert all(b.merge_threshold.item() == 1.0 and b.prune_threshold.item() == 0.0 for b in model.token_blocks())


@pytest.mark.parametrize("target", [0.55, 0.9])
def test_sgd_on_thresholds_moves_the_flops_ratio_to_the_budget(target: float) -> None:
    """From thresholds far from the budget, a few steps on random data close most of the gap."""
    model = tiny_model("vit_ltmp", flops_target=target)
    start = (0.9, 0.0) if target < 0.7 else (0.1, 0.5 / N)  # reduce too little / too much
    set_ltmp(model, *start)
    before = [(b.merge_threshold.item(), b.prune_threshold.item()) for b in model.token_blocks()]
    history = fit_thresholds(model, batches(), steps=12, merge_lr=0.2, prune_lr=1e-3)
    after = [(b.merge_threshold.item(), b.prune_threshold.item()) for b in model.token_blocks()]
    assert after != before and all(0 <= m <= 1 and 0 <= p <= 1 for m, p in after)
    first, last = history[0]["flops_ratio"], history[-1]["flops_ratio"]
    assert abs(last - target) < 0.5 * abs(first - target)
    assert not model.training  # handed back in eval mode


def test_pruner_selectors_learn_toward_the_keep_ratio() -> None:
    model = tiny_model("vit_mlp_prune", skip_first=1, keep_ratio=0.3, loss_weight=50.0)
    params = selector_parameters(model)
    assert len(params) == 3 * 6  # LayerNorm, two linears (weights, biases) per pruning block
    optimizer = torch.optim.SGD(params, lr=0.5)
    model.train()
    kept = []
    torch.manual_seed(0)
    for x, y in batches(6) * 2:
        loss = torch.nn.functional.cross_entropy(model(x), y) + model.auxiliary_loss()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        kept.append(torch.stack([m[:, 1:].mean() for m in model.last_log]).mean().item())
    assert kept[0] > 0.4 and sum(kept[-3:]) / 3 < kept[0] - 0.1


def test_last_flops_ratio_reads_the_last_training_forward() -> None:
    model = set_ltmp(tiny_model("vit_ltmp"), merge=0.3, prune=0.0).train()
    model(images(3))
    ratio = last_flops_ratio(model)
    assert ratio.shape == (3,) and ((ratio > 0) & (ratio < 1)).all()


def test_training_helpers_reject_other_models() -> None:
    with pytest.raises(ValueError, match="no LTMP blocks"):
        threshold_param_groups(tiny_model("vit_tome", r=2))
    with pytest.raises(ValueError, match="no pruning blocks"):
        selector_parameters(tiny_model("vit"))
