"""follow_static / follow_dynamic follow LTMP's merges and prunes: after a chain of steps each position points at the
alive token that holds it, or holds the state of the token it was pruned with; both forms agree."""

from __future__ import annotations

import torch

from hwbench.blocks.tokens.ltmp import reduce_dynamic, reduce_static
from hwbench.blocks.tokens.ltmp_sources import follow_dynamic, follow_static

N = 17  # the class token and 16 patch positions
THRESHOLDS = (torch.tensor(0.2), torch.tensor(0.045))


def test_sources_follow_chained_merges_and_prunes_in_both_forms() -> None:
    g = torch.Generator().manual_seed(0)
    # Token p carries one-hot p: a merged token's row is the size-weighted mean of its members' one-hots, positive
    # exactly at the positions it holds: an account of the merges and prunes independent of the follow functions.
    x = torch.eye(N).unsqueeze(0)
    size, mask = torch.ones(1, N), torch.ones(1, N)
    state = (torch.arange(1.0, N).unsqueeze(0), None, None)
    xd, sized, stated = x.clone(), size.clone(), state
    for _ in range(3):
        keys = torch.randn(1, N, 8, generator=g)
        importance = torch.rand(1, N, generator=g) * 0.1
        trace: dict = {}
        x, size, mask = reduce_static(x, size, mask, keys, importance, THRESHOLDS, 0.1, N, False, trace)
        state = follow_static(state, trace)
        # The dynamic form on the alive tokens only (packed first in the static buffer): the same tokens.
        n = xd.shape[1]
        trace = {}
        xd, sized = reduce_dynamic(xd, sized, keys[:, :n], importance[:, :n], THRESHOLDS, trace)
        stated = follow_dynamic(stated, trace)
    source, held, frozen = state
    positions = torch.arange(1, N)
    alive = int(mask.sum())
    assert 1 < alive < N - 6 and 0 < int((held == 0).sum()) < N - 1  # merges and prunes both happened
    for p in range(N - 1):
        if held[0, p] > 0:
            s = int(source[0, p])
            assert s < alive and x[0, s, positions[p]] > 0  # held by an alive token whose row covers it
        else:
            assert frozen[0, p, positions[p]] > 0 and abs(float(frozen[0, p].sum()) - 1.0) < 1e-6  # its pruned token
    for j in range(1, alive):  # an alive token covers exactly the held positions pointing at it
        covers = (x[0, j, 1:] > 0) & (held[0] > 0)
        assert torch.equal(covers, (source[0] == j) & (held[0] > 0)) and int(covers.sum()) == int(size[0, j])
    assert xd.shape[1] == alive and torch.allclose(xd, x[:, :alive])
    assert torch.equal(stated[0], source) and torch.equal(stated[1], held) and torch.allclose(stated[2], frozen)
