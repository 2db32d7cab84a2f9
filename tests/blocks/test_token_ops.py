"""The sort-free primitives agree with sort/top-k/gather; schedules; estimators have exact 0/1 forwards."""

from __future__ import annotations

import pytest
import torch

from hwbench.blocks.tokens.merge import tome_schedule
from hwbench.blocks.tokens.ops import gather_rows, gumbel_keep, kept_index, rank_desc, threshold_mask, top_k_mask


def test_rank_matches_a_stable_descending_argsort() -> None:
    s = torch.tensor([[0.3, 0.9, 0.3, float("-inf"), 0.1, 0.9]])
    order = sorted(range(6), key=lambda i: (-s[0, i].item(), i))
    expected = torch.empty(6)
    expected[order] = torch.arange(6.0)
    assert torch.equal(rank_desc(s)[0], expected)


@pytest.mark.parametrize("k", [1, 7, 20])
def test_kept_index_and_gather_rows_match_topk_gather(k: int) -> None:
    x = torch.randn(3, 20, 5)
    scores = torch.randn(3, 20)
    got = gather_rows(x, kept_index(top_k_mask(scores, k), k))
    idx = scores.topk(k, dim=-1).indices.sort(dim=-1).values
    assert torch.equal(got, x.gather(1, idx.unsqueeze(-1).expand(-1, -1, 5)))


@pytest.mark.parametrize(
    ("r", "schedule", "expected"),
    [
        (3, "constant", [3, 3, 3, 3]),
        (0, "constant", [0, 0, 0, 0]),
        (100, "constant", [8, 4, 2, 1]),  # (n - 1) // 2 each block: 17 → 9 → 5 → 3 → 2
        (2, "decreasing", [4, 3, 1, 0]),
    ],
)
def test_tome_schedule(r: int, schedule: str, expected: list[int]) -> None:
    assert tome_schedule(17, 4, r, schedule) == expected


def test_straight_through_forwards_are_exactly_binary() -> None:
    torch.manual_seed(0)
    v = torch.rand(1000, requires_grad=True)
    theta = torch.tensor(0.5, requires_grad=True)
    m = threshold_mask(v, theta, 0.1, soft=True)
    assert set(m.detach().unique().tolist()) == {0.0, 1.0}
    assert set((1.0 - m).detach().unique().tolist()) == {0.0, 1.0}  # no 1 + s - s leftovers
    m.sum().backward()
    assert theta.grad is not None and theta.grad < 0
    logp = torch.randn(1000, 2).log_softmax(-1).requires_grad_(True)
    k = gumbel_keep(logp)
    assert set(k.detach().unique().tolist()) == {0.0, 1.0}
    k.sum().backward()
    assert logp.grad is not None and logp.grad.abs().sum() > 0
