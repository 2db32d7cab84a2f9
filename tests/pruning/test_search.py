"""The search: Pareto bookkeeping on hand-made nodes, the paper's greedy rule, min_map, the node budget, resuming
from known nodes, and a deterministic order (same inputs, same visits and front)."""

from __future__ import annotations

import pytest

from hwbench.pruning.anchor_index import AnchorRef
from hwbench.pruning.search import Node, dominates, pareto, run_search, shared_moves, single_moves

# Two levels of three shapes each; anchor i costs BOXES[i] boxes and IMPORTANCE[i] points of mAP when removed.
ANCHORS = [AnchorRef(i, i // 3, i % 3, [1.0, 1.0, 2.0][i % 3], [1.0, 2.0, 1.0][i % 3]) for i in range(6)]
BOXES = [400, 400, 400, 100, 100, 100]
IMPORTANCE = [0.0, 0.02, 0.10, 0.0, 0.05, 0.20]


def evaluate(removed: frozenset[int]) -> float:
    return round(0.6 - sum(IMPORTANCE[i] for i in removed), 10)


def cost(removed: frozenset[int]) -> float:
    return float(sum(b for i, b in enumerate(BOXES) if i not in removed))


def n(removed: set[int], m: float, c: float) -> Node:
    return Node(frozenset(removed), m, c)


def test_pareto_by_hand() -> None:
    a, b, c, d = n({1}, 0.5, 10), n({2}, 0.4, 5), n({3}, 0.4, 8), n({4}, 0.5, 10)
    assert dominates(b, c) and not dominates(a, b) and not dominates(b, a) and not dominates(a, d)
    assert pareto([c, a, b, d]) == [b, a]  # c dominated; d equal to a: the first in the fixed order stays


def test_greedy_takes_a_tying_child_and_skips_its_siblings() -> None:
    result = run_search("greedy", ANCHORS, evaluate, cost, min_map=0.3)
    visited = [tuple(sorted(v.removed)) for v in result.visited]
    # From the root, removing anchor 0 ties the root's mAP: taken at once, the root's other children never expanded.
    assert visited[:7] == [(), (0,), (1,), (2,), (3,), (4,), (5,)]
    assert visited[7] == (0, 1)  # then expanded from {0}
    front = {tuple(sorted(f.removed)): f.map for f in result.front}
    assert (0, 3) in front and front[(0, 3)] == pytest.approx(0.6)  # both free anchors found
    # Every front node is visited and no visited node dominates it; everything on it reaches min_map.
    for f in result.front:
        assert f in result.visited and not any(dominates(v, f) for v in result.visited) and f.map >= 0.3


def test_min_map_bounds_the_front() -> None:
    result = run_search("greedy", ANCHORS, evaluate, cost, min_map=0.55)
    assert min(f.map for f in result.front) >= 0.55
    assert any(v.map < 0.55 for v in result.visited)  # seen, but kept off the front


@pytest.mark.parametrize("strategy", ["greedy", "layerwise", "shared"])
def test_deterministic_and_resumable(strategy: str) -> None:
    first = run_search(strategy, ANCHORS, evaluate, cost, min_map=0.3)
    again = run_search(strategy, ANCHORS, evaluate, cost, min_map=0.3)
    assert first.visited == again.visited and first.front == again.front
    calls: list[frozenset[int]] = []

    def counted(removed: frozenset[int]) -> float:
        calls.append(removed)
        return evaluate(removed)

    known = {v.removed: v for v in first.visited}
    resumed = run_search(strategy, ANCHORS, counted, cost, min_map=0.3, known=known)
    assert calls == [] and resumed.front == first.front


def test_budget_stops_and_says_so() -> None:
    result = run_search("greedy", ANCHORS, evaluate, cost, min_map=0.0, max_nodes=5)
    assert result.exhausted and len(result.visited) == 5


def test_layerwise_and_shared_moves() -> None:
    assert single_moves(ANCHORS, [1])(frozenset({0})) == [frozenset({0, 3}), frozenset({0, 4}), frozenset({0, 5})]
    moves = shared_moves(ANCHORS)(frozenset())
    # Shapes (1,1), (1,2), (2,1) across both levels, then level 0, then level 1.
    assert moves == [
        frozenset({0, 3}),
        frozenset({1, 4}),
        frozenset({2, 5}),
        frozenset({0, 1, 2}),
        frozenset({3, 4, 5}),
    ]
    assert shared_moves(ANCHORS)(frozenset({0, 1, 2})) == [
        frozenset({0, 1, 2, 3}),
        frozenset({0, 1, 2, 4}),
        frozenset({0, 1, 2, 5}),
    ]  # removing level 1 too would leave no anchor
    with pytest.raises(ValueError, match="unknown strategy 'best'"):
        run_search("best", ANCHORS, evaluate, cost, 0.3)
