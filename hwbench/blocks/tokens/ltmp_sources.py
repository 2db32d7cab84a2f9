"""Follow LTMP's merges and prunes per patch position, so a dense task can restore the full token map.

The state is (`source`, `held`, `frozen`): `source` (B, P) the index of the token now holding each position
(integer-valued floats), `held` (B, P) 1 while that token is still in the buffer, `frozen` (B, P, C) for a position
whose token was pruned (or dropped for want of fixed-count slots), that token's state at the step it left: after its
block's attention and merge, before the MLP. A pruned token thus stays in the map as it was when pruned, as SViT
keeps a skipped token in place; a position merged into a token follows that token. The static follow uses only
float arithmetic, int32 index_select gathers and selects, so the side buffer exports wherever the block does.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hwbench.blocks.tokens.ops import gather_rows

State = tuple[Tensor, Tensor | None, Tensor | None]


def _at(values: Tensor, index: Tensor) -> Tensor:
    """values (B, N) at integer-valued float indices (B, P)."""
    return gather_rows(values.unsqueeze(-1), index).squeeze(-1)


def _step(state: State, to: Tensor, kept: Tensor, slot: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Each position's token moved to index `to` of the step's buffer x (B, N, C); `kept` (B, N) says whether that
    token is in the output, at `slot` (B, N)."""
    source, held, frozen = state
    held = torch.ones_like(source) if held is None else held
    frozen = x.new_zeros(*source.shape, x.shape[-1]) if frozen is None else frozen
    stays = held * _at(kept, to)
    leaves = (held - stays).unsqueeze(-1) > 0
    frozen = torch.where(leaves, gather_rows(x, to), frozen)
    # A position whose token has left points at the class token (0): any valid row, never read (held is 0).
    return stays * _at(slot, to), stays, frozen


def follow_static(state: State, trace: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """Through reduce_static: the buffer is [A; B] (A even, B odd positions); a merged A token goes to its partner."""
    source = state[0]
    merging, partner = trace["merging"], trace["partner"].to(source.dtype)
    na = merging.shape[-1]
    half = torch.floor(source / 2.0)
    odd = source - 2.0 * half  # 1 for a B token (odd position), 0 for an A token
    merged = _at(merging, half)
    a_to = merged * (na + _at(partner, half)) + (1.0 - merged) * half
    to = odd * (na + half) + (1.0 - odd) * a_to
    return _step(state, to, trace["kept"], trace["slot"], trace["x"])


def follow_dynamic(state: State, trace: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """Through reduce_dynamic (batch 1, original order): merged tokens go to their partners, kept ones to their rank."""
    source = state[0]
    keep = trace["keep"].to(source.dtype)
    n = keep.shape[0]
    redirect = torch.arange(n, device=source.device).scatter(0, trace["src"], trace["dst"]).to(source.dtype)
    to = _at(redirect.unsqueeze(0), source)
    rank = torch.cumsum(keep, dim=0) - 1.0
    return _step(state, to, keep.unsqueeze(0), rank.unsqueeze(0), trace["x"])
