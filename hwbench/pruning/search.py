"""The anchor-pruning search (the paper's rules, in a deterministic order).

A node is a set of removed anchors; its children each remove a little more (one anchor, or one anchor shape on
every level / one whole level for the `shared` moves). From a parent, a child whose mAP improves on or ties the
parent's is taken at once (greedy; the best such child, ties broken by lower cost, then by the anchors removed).
Otherwise the children at or above `min_map` that no sibling dominates form a local front, merged into the global
front (mAP up, cost down); those that stay on it are expanded next. The order of every step is fixed by sorting
on (cost, -mAP, removed anchors), never by set iteration, so the same inputs give the same front.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hwbench.pruning.anchor_index import AnchorRef

STRATEGIES = ("greedy", "layerwise", "shared")
Removed = frozenset[int]


@dataclass(frozen=True)
class Node:
    """An anchor set (by the anchors it removes) with its mAP and cost."""

    removed: Removed
    map: float
    cost: float

    def order(self) -> tuple[float, float, tuple[int, ...]]:
        """The fixed order of nodes: cheaper first, then better, then by the removed anchors."""
        return (self.cost, -self.map, tuple(sorted(self.removed)))


@dataclass
class SearchResult:
    """Every node visited (in visiting order), the final front, and whether the node budget ran out."""

    visited: list[Node] = field(default_factory=list)
    front: list[Node] = field(default_factory=list)
    exhausted: bool = False


def dominates(a: Node, b: Node) -> bool:
    """a is at least as good on both axes and better on one."""
    return a.map >= b.map and a.cost <= b.cost and (a.map > b.map or a.cost < b.cost)


def pareto(nodes: Sequence[Node]) -> list[Node]:
    """The nodes no other node dominates (equal points: the first in the fixed order), in the fixed order."""
    out: list[Node] = []
    for n in sorted(nodes, key=Node.order):
        if not any(dominates(m, n) or (m.map == n.map and m.cost == n.cost) for m in out):
            out.append(n)
    return out


def single_moves(
    anchors: Sequence[AnchorRef], levels: Sequence[int] | None = None
) -> Callable[[Removed], list[Removed]]:
    """Children that remove one more anchor (of `levels` only, when given), keeping at least one anchor."""
    allowed = [a.index for a in anchors if levels is None or a.level in levels]

    def moves(removed: Removed) -> list[Removed]:
        if len(removed) + 1 >= len(anchors):
            return []
        return [removed | {i} for i in allowed if i not in removed]

    return moves


def shared_moves(anchors: Sequence[AnchorRef]) -> Callable[[Removed], list[Removed]]:
    """Children that remove one anchor shape from every level, or one whole level (for heads shared across levels)."""
    groups: list[frozenset[int]] = []
    shapes = list(dict.fromkeys((a.scale, a.ratio) for a in anchors))
    groups += [frozenset(a.index for a in anchors if (a.scale, a.ratio) == s) for s in shapes]
    groups += [frozenset(a.index for a in anchors if a.level == lv) for lv in sorted({a.level for a in anchors})]

    def moves(removed: Removed) -> list[Removed]:
        out = []
        for g in groups:
            child = removed | g
            if child != removed and len(child) < len(anchors) and child not in out:
                out.append(child)
        return out

    return moves


class Search:
    """The search over one detector's anchors with memoised evaluation (a resumed search re-evaluates nothing)."""

    def __init__(
        self,
        evaluate: Callable[[Removed], float],
        cost: Callable[[Removed], float],
        min_map: float,
        max_nodes: int = 500,
        known: dict[Removed, Node] | None = None,
    ) -> None:
        self._evaluate, self._cost = evaluate, cost
        self.min_map, self.max_nodes = min_map, max_nodes
        self.known: dict[Removed, Node] = dict(known or {})
        self.result = SearchResult()
        self._seen: set[Removed] = set()

    def node(self, removed: Removed) -> Node | None:
        """The node of an anchor set (evaluated once); None when the budget is spent."""
        if removed not in self.known:
            if len(self.result.visited) >= self.max_nodes:
                self.result.exhausted = True
                return None
            self.known[removed] = Node(removed, float(self._evaluate(removed)), float(self._cost(removed)))
        found = self.known[removed]
        if removed not in self._seen:
            self._seen.add(removed)
            self.result.visited.append(found)
        return found

    def run(self, moves: Callable[[Removed], list[Removed]], starts: Sequence[Node]) -> None:
        """Expand from `starts` with `moves` until nothing new is on the front (or the budget is spent)."""
        front = self.result.front
        queue = deque(sorted(starts, key=Node.order))
        expanded: set[Removed] = set()
        while queue and not self.result.exhausted:
            parent = queue.popleft()
            if parent.removed in expanded:
                continue
            expanded.add(parent.removed)
            children = [c for c in (self.node(r) for r in moves(parent.removed)) if c is not None]
            better = [c for c in children if c.map >= parent.map]
            if better:
                best = min(better, key=lambda c: (-c.map, *c.order()))
                front[:] = pareto([*front, best])
                queue.appendleft(best)
                continue
            local = pareto([c for c in children if c.map >= self.min_map])
            front[:] = pareto([*front, *local])
            queue.extend(c for c in local if c in front and c.removed not in expanded)


def run_search(
    strategy: str,
    anchors: Sequence[AnchorRef],
    evaluate: Callable[[Removed], float],
    cost: Callable[[Removed], float],
    min_map: float,
    max_nodes: int = 500,
    known: dict[Removed, Node] | None = None,
) -> SearchResult:
    """Run one strategy from the unpruned detector: greedy (single anchors anywhere), layerwise (single anchors,
    one level at a time, each level starting from the front so far), shared (shapes across levels, whole levels)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    search = Search(evaluate, cost, min_map, max_nodes, known)
    root = search.node(frozenset())
    assert root is not None
    search.result.front[:] = [root]
    if strategy == "greedy":
        search.run(single_moves(anchors), [root])
    elif strategy == "shared":
        search.run(shared_moves(anchors), [root])
    else:
        for level in sorted({a.level for a in anchors}):
            search.run(single_moves(anchors, [level]), list(search.result.front))
    return search.result
