"""Sort-free, static-shape primitives for selecting tokens, and the straight-through estimators.

litert-torch cannot convert sort, argsort or top-k (they lower to an op LiteRT cannot run) and its int64
gather is slow; these primitives use pairwise comparisons, cumulative sums, one-hot products and one int32
index_select instead. They give the same results as top-k/gather and export to ONNX and TFLite alike.
"""

from __future__ import annotations

import torch
from torch import Tensor

NEG_INF = float("-inf")


def rank_desc(scores: Tensor) -> Tensor:
    """Descending rank along the last dim as floats (0 = largest; ties go to the lower index)."""
    n = scores.shape[-1]
    s_i, s_j = scores.unsqueeze(-1), scores.unsqueeze(-2)
    # Float mul/add with a constant lower-triangular tie matrix: boolean and/or kernels are 4x slower in LiteRT.
    earlier = torch.tril(torch.ones(n, n, device=scores.device, dtype=scores.dtype), diagonal=-1)
    return ((s_j > s_i).to(scores.dtype) + (s_j == s_i).to(scores.dtype) * earlier).sum(-1)


def top_k_mask(scores: Tensor, k: int) -> Tensor:
    """0/1 float mask of the k largest scores along the last dim."""
    return (rank_desc(scores) < k).to(scores.dtype)


def one_hot(index: Tensor, num: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Float one-hot of an integer-valued index tensor, along a new last dim of size num."""
    index = index.to(dtype)
    return (index.unsqueeze(-1) == torch.arange(num, device=index.device, dtype=dtype)).to(dtype)


def kept_index(keep: Tensor, k: int) -> Tensor:
    """(B, N) 0/1 mask with at most k ones → (B, k) float indices of the kept tokens in order (unused: 0)."""
    n = keep.shape[-1]
    slots = one_hot(torch.cumsum(keep, dim=-1) - 1.0, k, keep.dtype) * keep.unsqueeze(-1)
    positions = torch.arange(n, device=keep.device, dtype=keep.dtype).view(1, 1, n)
    return (positions @ slots).squeeze(1)


def gather_rows(x: Tensor, index: Tensor) -> Tensor:
    """Rows of x (B, N, C) at integer-valued float indices (B, K) → (B, K, C), with one int32 index_select."""
    b, n, c = x.shape
    flat = index + (torch.arange(b, device=x.device, dtype=index.dtype) * n).unsqueeze(-1)
    return x.reshape(b * n, c).index_select(0, flat.reshape(-1).to(torch.int32)).reshape(b, -1, c)


def straight_through(hard: Tensor, soft: Tensor) -> Tensor:
    """Forward exactly `hard`, backward through `soft`."""
    # This grouping keeps the forward exact: `hard + soft - soft.detach()` gives 1 + s - s, not always 1.
    return hard + (soft - soft.detach())


def threshold_mask(values: Tensor, threshold: Tensor, tau: float, soft: bool) -> Tensor:
    """1[values > threshold]; with `soft`, gradients through sigmoid((values - threshold) / tau) (LTMP)."""
    hard = (values > threshold).to(values.dtype)
    if not soft:
        return hard
    return straight_through(hard, torch.sigmoid((values - threshold) / tau))


def gumbel_keep(logp: Tensor, tau: float = 1.0) -> Tensor:
    """Hard Gumbel-softmax sample of channel 0 (keep) of (..., 2) log-probabilities, exact 0/1 forward."""
    # Written out rather than F.gumbel_softmax(hard=True), whose forward is 1 + s - s (see straight_through).
    u = torch.rand_like(logp).clamp_(1e-10, 1.0)
    soft = ((logp - torch.log(-torch.log(u))) / tau).softmax(dim=-1)[..., 0]
    return straight_through((soft > 0.5).to(logp.dtype), soft)


def class_token(like: Tensor) -> Tensor:
    """(1, N) bool: True at the class token (index 0) of a (B, N) tensor."""
    return (torch.arange(like.shape[-1], device=like.device) == 0).unsqueeze(0)
