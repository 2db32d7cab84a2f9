"""merge_sources follows ToMe's merges: after a chain of merges each position points at the token that holds it."""

from __future__ import annotations

import pytest
import torch

from hwbench.blocks.tokens.merge import bipartite_match, merge, merge_sources


@pytest.mark.parametrize("form", ["topk", "sort_free"])
def test_sources_follow_chained_merges(form: str) -> None:
    g = torch.Generator().manual_seed(0)
    b, n = 2, 17
    # Token p carries one-hot p: a merged token's row is then the size-weighted mean of its members' one-hots,
    # positive exactly at the positions it holds: an account of the merges independent of merge_sources.
    x = torch.eye(n).expand(b, n, n).clone()
    size = torch.ones(b, n)
    source = torch.arange(n, dtype=torch.float32).expand(b, n)
    for r in (3, 4, 2):
        best, partner = bipartite_match(torch.randn(b, x.shape[1], 8, generator=g))
        x, size = merge(x, size, best, partner, r, form)  # type: ignore[arg-type]
        source = merge_sources(source, best, partner, r, form)  # type: ignore[arg-type]
    held = x > 0  # (B, tokens, positions)
    assert x.shape[1] == n - 9 and (held.sum(dim=1) == 1).all()
    assert torch.equal(source, held.float().argmax(dim=1).float())
    assert torch.equal(held.sum(dim=-1).float(), size)  # each token holds as many positions as its size says
