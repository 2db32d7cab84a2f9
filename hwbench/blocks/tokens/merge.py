"""ToMe bipartite soft matching: merge the r best-matched token pairs by size-weighted average.

Tokens alternate into sets A (even positions) and B (odd positions); each A token's score is its best cosine
similarity (of attention keys averaged over heads) to a B token. The class token (position 0, in A) never
merges. Merging adds `x * size` and `size` into the partner and divides, which exports everywhere
(`scatter_reduce(reduce="mean")` does not). Output order is [unmerged A in original order, B].
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from hwbench.blocks.tokens.ops import NEG_INF, gather_rows, kept_index, one_hot, top_k_mask


def bipartite_match(keys: Tensor, alive: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Best similarity (B, Na) of each A token to the B tokens and the partner's index in B.

    The class token and dead A tokens (alive == 0) score -inf; dead B tokens are never partners; a token
    with no partner at all (-inf) may point one past the last B token, which the merges never use.
    """
    kn = keys / keys.norm(dim=-1, keepdim=True)
    sim = kn[:, ::2] @ kn[:, 1::2].transpose(-1, -2)
    if alive is not None:
        sim = torch.where(alive[:, 1::2].unsqueeze(1) > 0, sim, torch.full_like(sim, NEG_INF))
    # A column that matches nothing keeps max() defined when no B token is left (a block down to one token).
    sim = torch.cat([sim, torch.full_like(kn[:, ::2, :1], NEG_INF)], dim=-1)
    best, partner = sim.max(dim=-1)
    ok = (torch.arange(best.shape[-1], device=keys.device) > 0).unsqueeze(0)
    if alive is not None:
        ok = ok & (alive[:, ::2] > 0)
    return torch.where(ok, best, torch.full_like(best, NEG_INF)), partner


def _weighted(x: Tensor, size: Tensor) -> Tensor:
    """[x * size, size]: merging is then one sum, and dividing by the last column gives the average."""
    return torch.cat([x * size.unsqueeze(-1), size.unsqueeze(-1)], dim=-1)


def _split(out: Tensor) -> tuple[Tensor, Tensor]:
    return out[..., :-1] / out[..., -1:], out[..., -1]


def merge_topk(x: Tensor, size: Tensor, best: Tensor, partner: Tensor, r: int) -> tuple[Tensor, Tensor]:
    """Merge the r best A tokens into their partners with TopK, sort, gather and scatter-add (ONNX form)."""
    xs = _weighted(x, size)
    src, dst = xs[:, ::2], xs[:, 1::2]
    width = xs.shape[-1]
    order = best.topk(best.shape[-1], dim=-1).indices
    # Plain sort of the unmerged indices: argsort(stable=True) has no ONNX lowering.
    unmerged = order[:, r:].sort(dim=-1).values
    merged = order[:, :r]
    moved = src.gather(1, merged.unsqueeze(-1).expand(-1, -1, width))
    to = partner.gather(1, merged).unsqueeze(-1).expand(-1, -1, width)
    dst = dst.scatter_add(1, to, moved)
    unm = src.gather(1, unmerged.unsqueeze(-1).expand(-1, -1, width))
    return _split(torch.cat([unm, dst], dim=1))


def merge_sort_free(x: Tensor, size: Tensor, best: Tensor, partner: Tensor, r: int) -> tuple[Tensor, Tensor]:
    """The same merge with pairwise ranks, cumsum, int32 index_select and a one-hot product (TFLite form)."""
    xs = _weighted(x, size)
    src, dst = xs[:, ::2], xs[:, 1::2]
    na, nb = src.shape[1], dst.shape[1]
    merged = top_k_mask(best, r)
    unm = gather_rows(src, kept_index(1.0 - merged, na - r))
    # Many A tokens may go to one B token: a (B, Na, Nb) one-hot product sums them.
    to_dst = one_hot(partner, nb, x.dtype) * merged.unsqueeze(-1)
    dst = dst + to_dst.transpose(1, 2) @ src
    return _split(torch.cat([unm, dst], dim=1))


def merge(
    x: Tensor, size: Tensor, best: Tensor, partner: Tensor, r: int, form: Literal["topk", "sort_free"]
) -> tuple[Tensor, Tensor]:
    """Merge r pairs in the given form; returns tokens (B, N - r, C) and sizes (B, N - r)."""
    return (merge_topk if form == "topk" else merge_sort_free)(x, size, best, partner, r)


def merged_mask(best: Tensor, r: int, form: Literal["topk", "sort_free"]) -> Tensor:
    """0/1 float mask (B, Na) of the A tokens the merge of that form moves: the same selection it makes."""
    if form == "sort_free":
        return top_k_mask(best, r)
    # The same TopK call as merge_topk, so ties fall the same way.
    merged = best.topk(best.shape[-1], dim=-1).indices[:, :r]
    return torch.zeros_like(best).scatter(1, merged, torch.ones_like(best[:, :r]))


def merge_sources(source: Tensor, best: Tensor, partner: Tensor, r: int, form: Literal["topk", "sort_free"]) -> Tensor:
    """Follow a merge: `source` (B, P) holds token indices before it (integer-valued floats), returned after it.

    The merge's output is [unmerged A in original order, B]: an unmerged A token moves to its rank among the
    unmerged, a merged one to its partner's slot (Na - r + partner), B token b to Na - r + b. Floats, cumsum and
    one int32 index_select: the static, sort-free ops the TFLite forms use (hwbench.blocks.tokens.ops).
    """
    na = best.shape[-1]
    merged = merged_mask(best, r, form)
    stays = 1.0 - merged
    rank = torch.cumsum(stays, dim=-1) - 1.0
    a_to = merged * (na - r + partner.to(best.dtype)) + stays * rank
    half = torch.floor(source / 2.0)
    odd = source - 2.0 * half  # 1 for a B token (odd position), 0 for an A token
    a_new = gather_rows(a_to.unsqueeze(-1), half).squeeze(-1)
    return odd * (na - r + half) + (1.0 - odd) * a_new


def tome_schedule(num_tokens: int, depth: int, r: int, schedule: str = "constant") -> list[int]:
    """Merges per block: r each ("constant"), or 2r falling linearly to 0 ("decreasing"), clamped to what
    the remaining tokens allow (the class token and one token of each pair stay)."""
    if schedule == "decreasing" and depth > 1:
        wanted = [round(2 * r * (depth - 1 - i) / (depth - 1)) for i in range(depth)]
    else:
        wanted = [r] * depth
    out, n = [], num_tokens
    for ri in wanted:
        ri = max(0, min(ri, (n - 1) // 2))
        out.append(ri)
        n -= ri
    return out
