"""MLP token pruning for dense tasks (SViT): a small MLP decides per token whether a block processes it.

Skipped tokens are not discarded: they pass the block unchanged and stay in place in the token map, and the
next pruning block decides on all tokens again, so a skipped token can come back.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hwbench.blocks.tokens.ops import class_token, gather_rows, gumbel_keep, kept_index, top_k_mask

# run(tokens, key_mask) → the block's output for those tokens, attending only to keys with mask 1.
BlockFn = Callable[[Tensor, Tensor | None], Tensor]


class Selector(nn.Module):
    """LayerNorm → Linear C→C/4 → GELU → Linear C/4→2 → log-softmax; channel 0 is keep, 1 is skip."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        hidden = max(1, dim // 4)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, 2)

    def forward(self, x: Tensor) -> Tensor:
        """Log-probabilities (B, N, 2)."""
        return F.log_softmax(self.fc2(F.gelu(self.fc1(self.norm(x)))), dim=-1)

    def shift(self, bias: float) -> None:
        """Add `bias` to the keep-minus-skip logit (calibration of an untrained selector)."""
        with torch.no_grad():
            self.fc2.bias += torch.tensor([bias / 2, -bias / 2], device=self.fc2.bias.device)


def decide(logp: Tensor, training: bool, tau: float) -> Tensor:
    """0/1 keep mask (B, N): Gumbel-softmax sample in training, p(keep) > p(skip) otherwise; class token kept."""
    keep = gumbel_keep(logp, tau) if training else (logp[..., 0] > logp[..., 1]).to(logp.dtype)
    return torch.where(class_token(keep), torch.ones_like(keep), keep)


def apply_mask(run: BlockFn, x: Tensor, keep: Tensor, training: bool) -> Tensor:
    """Every token computed, skipped ones restored (training form: the blend carries the gradient to keep)."""
    y = run(x, keep)
    if training:
        return x + keep.unsqueeze(-1) * (y - x)
    return torch.where(keep.unsqueeze(-1) > 0, y, x)


def apply_fixed_count(run: BlockFn, x: Tensor, keep: Tensor, logp: Tensor, capacity: int) -> Tensor:
    """The `capacity` best-scored tokens gathered into a fixed buffer, processed, written back in place."""
    is_cls = class_token(keep)
    # Kept tokens first: without reactivation a dead token can score high, and must not take a kept one's slot.
    score = torch.where(keep > 0, logp[..., 0] - logp[..., 1], torch.full_like(keep, -math.inf))
    score = torch.where(is_cls, torch.full_like(keep, math.inf), score)
    chosen = top_k_mask(score, capacity)
    index = kept_index(chosen, capacity)
    valid = gather_rows(keep.unsqueeze(-1), index).squeeze(-1)
    y = run(gather_rows(x, index), valid)
    # Write back with a gather from the processed buffer: exact for skipped tokens, no scatter op needed.
    slot = (torch.cumsum(chosen, dim=-1) - 1.0).clamp(min=0.0)
    return torch.where((chosen * keep).unsqueeze(-1) > 0, gather_rows(y, slot), x)


def apply_dynamic(run: BlockFn, x: Tensor, keep: Tensor) -> Tensor:
    """Batch 1: only the kept tokens are gathered, processed and copied back (count follows the image)."""
    idx = torch.nonzero(keep[0] > 0).squeeze(1)
    return x.index_copy(1, idx, run(x[:, idx], None))


def keep_fraction(keep: Tensor) -> Tensor:
    """Kept fraction of the patch tokens (the class token is always kept), per image."""
    return keep[:, 1:].mean(dim=-1)


def keep_ratio_loss(keeps: list[Tensor], targets: list[float], weight: float = 4.0, per_sample: bool = False) -> Tensor:
    """SViT's term: per pruning block (batch-mean kept fraction − target)², averaged over blocks.

    Averaging over the batch (not per image) lets each image keep a different amount; `per_sample` squares each
    image's own deviation instead (the fixed-rate ablation: every image is pushed to the target).
    """
    if per_sample:
        terms = [((keep_fraction(k) - t) ** 2).mean() for k, t in zip(keeps, targets, strict=True)]
    else:
        terms = [(keep_fraction(k).mean() - t) ** 2 for k, t in zip(keeps, targets, strict=True)]
    return weight * torch.stack(terms).mean()


def refill_discarded(x: Tensor, alive: Tensor) -> Tensor:
    """Each discarded token (alive 0) takes the value of the last alive token before it in raster order (the
    first alive one when none precedes); x (B, N, C), alive (B, N). Static shapes: one (N, N) comparison."""
    n = x.shape[1]
    pos = torch.arange(n, device=x.device, dtype=x.dtype)
    before = (pos.view(1, n) <= pos.view(n, 1)).to(x.dtype)  # [j, i]: i at or before j
    rank = alive * (pos + 1.0)  # 1-based positions of alive tokens, 0 elsewhere
    last = (before.unsqueeze(0) * rank.unsqueeze(1)).amax(-1)  # (B, N): last alive at or before j, 0 if none
    first = (alive * (n - pos)).amax(-1, keepdim=True)  # n - (first alive position)
    source = torch.where(last > 0, last - 1.0, (n - first).clamp(max=n - 1.0))
    # An image with no alive token keeps its map as it is (there is nothing to refill from).
    unchanged = alive + 1.0 - alive.amax(-1, keepdim=True)
    return torch.where(unchanged.unsqueeze(-1) > 0, x, gather_rows(x, source))
