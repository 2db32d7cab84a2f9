"""Training pieces of the token-reduced ViTs that need no dataset pipeline.

LTMP trains only its thresholds, one epoch on top of a trained ViT: plain SGD with a cosine schedule,
separate learning rates for merge (~5e-3) and prune (~5e-6) thresholds, clamped to [0, 1] after each step,
loss = cross-entropy + λ·(r_FLOPs − r_target)². The MLP pruner trains its selectors (hard Gumbel-softmax) with
the task loss plus its keep-ratio loss. `VisionTransformer.auxiliary_loss()` gives either method's term.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hwbench.blocks.tokens.ltmp import flops_ratio
from hwbench.blocks.vit_ltmp import LTMPBlock
from hwbench.blocks.vit_mlp_prune import PruneBlock
from hwbench.models.vit import VisionTransformer

MERGE_LR = 5e-3
PRUNE_LR = 5e-6


def _ltmp_blocks(model: VisionTransformer) -> list[LTMPBlock]:
    blocks = [b for b in model.token_blocks() if isinstance(b, LTMPBlock)]
    if not blocks:
        raise ValueError("the model has no LTMP blocks (block vit_ltmp)")
    return blocks


def threshold_param_groups(
    model: VisionTransformer, merge_lr: float = MERGE_LR, prune_lr: float = PRUNE_LR
) -> list[dict[str, Any]]:
    """Freeze everything but the LTMP thresholds; one optimizer group per threshold kind with its own lr."""
    for p in model.parameters():
        p.requires_grad_(False)
    blocks = _ltmp_blocks(model)
    merge = [b.merge_threshold.requires_grad_(True) for b in blocks]
    prune = [b.prune_threshold.requires_grad_(True) for b in blocks]
    return [{"params": merge, "lr": merge_lr, "name": "merge"}, {"params": prune, "lr": prune_lr, "name": "prune"}]


def clamp_thresholds(model: VisionTransformer, low: float = 0.0, high: float = 1.0) -> None:
    """Keep every LTMP threshold in [low, high] (after each optimizer step)."""
    with torch.no_grad():
        for b in _ltmp_blocks(model):
            b.merge_threshold.clamp_(low, high)
            b.prune_threshold.clamp_(low, high)


def last_flops_ratio(model: VisionTransformer) -> Tensor:
    """Per-image r_FLOPs of the last training forward (LTMP)."""
    g = model.token_blocks()[0].geometry
    return flops_ratio(model.last_log, g.num_tokens, g.dim, g.mlp_ratio)


def fit_thresholds(
    model: VisionTransformer,
    batches: Iterable[tuple[Tensor, Tensor]],
    steps: int,
    merge_lr: float = MERGE_LR,
    prune_lr: float = PRUNE_LR,
) -> list[dict[str, float]]:
    """LTMP's threshold-only training over `steps` batches (one epoch); returns loss and r_FLOPs per step."""
    groups = threshold_param_groups(model, merge_lr, prune_lr)
    optimizer = torch.optim.SGD(groups, lr=merge_lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 0.5 * (1 + math.cos(math.pi * i / steps)))
    model.train()
    history = []
    for _, (images, labels) in zip(range(steps), _cycle(batches)):
        logits = model(images)
        loss = F.cross_entropy(logits, labels) + model.auxiliary_loss()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        clamp_thresholds(model)
        history.append({"loss": loss.item(), "flops_ratio": last_flops_ratio(model).mean().item()})
    model.eval()
    return history


def selector_parameters(model: VisionTransformer) -> list[nn.Parameter]:
    """The MLP pruner's selector parameters (to train apart from, or with, the backbone)."""
    blocks = [b for b in model.token_blocks() if isinstance(b, PruneBlock)]
    if not blocks:
        raise ValueError("the model has no pruning blocks (block vit_mlp_prune)")
    return [p for b in blocks for p in b.selector.parameters()]


def _cycle(batches: Iterable[tuple[Tensor, Tensor]]) -> Iterator[tuple[Tensor, Tensor]]:
    """Repeat a re-iterable (a DataLoader) until the caller stops; a used-up iterator ends it."""
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            return
