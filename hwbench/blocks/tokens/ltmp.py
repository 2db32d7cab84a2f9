"""LTMP: merge a token when its best match is more similar than a learned threshold, then prune a token whose
importance (mean attention it receives) is at or below another; hard masks forward, sigmoid surrogate backward.

Token buffers are kept *packed*: alive tokens first, in their original order, dead ones after. The alternating
A/B split over alive tokens is then a plain stride-2 split, so the masked training form, the fixed-count form
and the dynamic (dropping) form compute exactly the same function.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from hwbench.blocks.tokens.merge import bipartite_match
from hwbench.blocks.tokens.ops import NEG_INF, class_token, gather_rows, one_hot, threshold_mask, top_k_mask


def received_attention(attn: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean attention each key receives over heads and alive query rows, (B, N); written as a matmul."""
    b, h, n, _ = attn.shape
    w = attn.new_ones(b, n) if mask is None else mask.detach()
    total = (w[:, None, None, :] @ attn).squeeze(2).sum(dim=1)
    return total / (h * w.sum(dim=-1, keepdim=True))


def pack_slots(first: Tensor, rest: Tensor) -> Tensor:
    """Slot of every token of an [A; B]-ordered buffer: `first` tokens fill slots 0.. in original order,
    `rest` tokens follow. Running counts are matvecs with a constant "comes before" matrix (no interleave)."""
    n = first.shape[-1]
    pos = torch.cat([torch.arange(0, n, 2, device=first.device), torch.arange(1, n, 2, device=first.device)])
    pos = pos.to(first.dtype)
    before = (pos.unsqueeze(1) < pos.unsqueeze(0)).to(first.dtype)
    counts = torch.stack([first, rest], dim=1) @ before
    return torch.where(first > 0, counts[:, 0], first.sum(dim=-1, keepdim=True) + counts[:, 1])


def reduce_static(
    x: Tensor,
    size: Tensor,
    mask: Tensor,
    keys: Tensor,
    importance: Tensor,
    thresholds: tuple[Tensor, Tensor],
    tau: float,
    capacity: int,
    soft: bool,
    trace: dict[str, Tensor] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Threshold merge and prune on a packed buffer, repacked into `capacity` slots (sort-free, static).

    Returns tokens, sizes and the alive mask, each `capacity` long. With more alive tokens than slots, the
    least important are dropped (the class token never). A `trace` dict receives what a per-position source map
    needs to follow the step (hwbench.blocks.tokens.ltmp_sources.follow_static).
    """
    merge_th, prune_th = thresholds
    c = x.shape[-1]
    na = (x.shape[1] + 1) // 2
    best, partner = bipartite_match(keys, mask.detach())
    merging = threshold_mask(best, merge_th, tau, soft)
    move = one_hot(partner, x.shape[1] - na, x.dtype) * merging.detach().unsqueeze(-1)
    xs = torch.cat([x * size.unsqueeze(-1), size.unsqueeze(-1)], dim=-1)
    xs = torch.cat([xs[:, ::2], xs[:, 1::2] + move.transpose(1, 2) @ xs[:, ::2]], dim=1)
    # A merged destination is as important as the most important token of its group.
    imp_a = importance[:, ::2]
    moved = torch.where(move > 0, imp_a.unsqueeze(-1), torch.zeros_like(move)).amax(dim=1)
    imp = torch.cat([imp_a, torch.maximum(importance[:, 1::2], moved)], dim=1)
    alive = torch.cat([mask[:, ::2] * (1.0 - merging), mask[:, 1::2]], dim=1)
    is_cls = class_token(imp)
    keep = threshold_mask(imp, prune_th, tau, soft)
    alive = alive * torch.where(is_cls, torch.ones_like(keep), keep)
    live = (alive.detach() > 0).to(x.dtype)
    priority = torch.where(live > 0, imp, torch.full_like(imp, NEG_INF))
    chosen = top_k_mask(torch.where(is_cls, torch.full_like(priority, math.inf), priority), capacity)
    slot = pack_slots(chosen * live, chosen * (1.0 - live))
    positions = torch.arange(slot.shape[-1], device=x.device, dtype=x.dtype).view(1, 1, -1)
    index = (positions @ (one_hot(slot, capacity, x.dtype) * chosen.unsqueeze(-1))).squeeze(1)
    # The mask travels with the rows, so surrogate gradients pass through the gather.
    packed = gather_rows(torch.cat([xs, alive.unsqueeze(-1)], dim=-1), index)
    if trace is not None:
        trace.update(
            merging=merging.detach(), partner=partner, kept=chosen * live, slot=slot, x=xs[..., :c] / xs[..., c:]
        )
    return packed[..., :c] / packed[..., c : c + 1], packed[..., c], packed[..., c + 1]


def reduce_dynamic(
    x: Tensor,
    size: Tensor,
    keys: Tensor,
    importance: Tensor,
    thresholds: tuple[Tensor, Tensor],
    trace: dict[str, Tensor] | None = None,
) -> tuple[Tensor, Tensor]:
    """Batch-1 threshold merge and prune that removes tokens: the count follows the image (`trace`: as in
    reduce_static, for hwbench.blocks.tokens.ltmp_sources.follow_dynamic)."""
    merge_th, prune_th = thresholds
    c = x.shape[-1]
    best, partner = bipartite_match(keys)
    src = torch.nonzero(best[0] > merge_th).squeeze(1)
    dst = 2 * partner[0].index_select(0, src) + 1
    src = 2 * src
    xs = torch.cat([x * size.unsqueeze(-1), size.unsqueeze(-1)], dim=-1)[0]
    xs = xs.index_add(0, dst, xs.index_select(0, src))
    imp = importance[0].scatter_reduce(0, dst, importance[0].index_select(0, src), reduce="amax")
    keep = (imp > prune_th) | (torch.arange(imp.shape[0], device=x.device) == 0)
    keep = keep.index_fill(0, src, False)
    if trace is not None:
        trace.update(src=src, dst=dst, keep=keep, x=(xs[..., :c] / xs[..., c:]).unsqueeze(0))
    xs = xs.index_select(0, torch.nonzero(keep).squeeze(1)).unsqueeze(0)
    return xs[..., :c] / xs[..., c:], xs[..., c]


def flops_ratio(masks: list[Tensor], num_tokens: int, dim: int, mlp_ratio: float) -> Tensor:
    """Per-image r_FLOPs (B,): mean over blocks of the kept fraction of attention and MLP FLOPs.

    A block's attention runs on the tokens the previous block kept, its MLP on the tokens it keeps itself.
    """
    n, c, h = float(num_tokens), float(dim), float(mlp_ratio)
    dense = 4 * n * c * c + 2 * n * n * c + 2 * h * n * c * c
    n_in = torch.full_like(masks[0][:, 0], n)
    total = torch.zeros_like(n_in)
    for m in masks:
        n_out = m.sum(dim=-1)
        total = total + (4 * n_in * c * c + 2 * n_in * n_in * c + 2 * h * n_out * c * c) / dense
        n_in = n_out
    return total / len(masks)


def flops_loss(ratio: Tensor, target: float, weight: float = 10.0) -> Tensor:
    """LTMP's budget term λ·(r_FLOPs − r_target)², r_FLOPs averaged over the batch."""
    return weight * (ratio.mean() - target) ** 2
