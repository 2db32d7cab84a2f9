"""Which blocks to keep per target: drop a block when the blocks kept are, on average over its range, as fast.

The cost of dropping block Y while keeping the set S is an integrated criterion on best-of-m curves θ
(hwbench.analysis.stepfront): the geometric mean, over the levels Y's networks occupy, of min over S of θ_S(a)
divided by θ_Y(a). A supremum of noisy ratios (the old "regret") is biased upward and never lets a block 5%
slower go; a mean over levels is a smooth functional with a valid bootstrap. cost ≤ 1 means S is at least as
fast on average; Y may go when cost ≤ 1 + latency tolerance (default 2%). A kept block covers every level at
least m of its networks reach (beyond its own compared range: a few networks there still cover, and replicates
lacking them count against the drop), and the quality tolerance above (0.5 points, or 5% of complexity); below its
least accurate network every network of it reaches a level, so it covers lower levels with its overall best-of-m.

Blocks are dropped one at a time, the cheapest first, while every block dropped so far stays within tolerance in
at least `confidence` of the bootstrap replicates at once. That share is bootstrap support, not a calibrated
probability: it is reported with its Monte Carlo error, replicates that do not define the cost count against a
drop, and when it falls within two Monte Carlo errors of the threshold twice as many replicates decide. Blocks with
fewer than MIN_NETWORKS networks get no verdict: at that size the support flips with the bootstrap seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hwbench.analysis.inference import support_error
from hwbench.analysis.stepfront import TargetFronts, bootstrap_front, stream

MIN_NETWORKS = 10  # fewer networks in a block: no keep/drop verdict for it, and it covers no other block
# Near the threshold the support is recomputed with this many times the replicates (2: the Monte Carlo error
# shrinks by √2; 4 cost 4 s more on one target of the 100k-result benchmark, for another factor of √2).
MORE_REPLICATES = 2

DOMINANCE_COLUMNS = ["target", "dominated", "by", "cost", "support", "support_se"]
RECOMMEND_COLUMNS = [
    "target",
    "group",
    "networks",
    "verdict",
    "cost",
    "support",
    "support_se",
    "replicates",
    "covered_by",
    "share_range",
    "evidence",
]


class Cover:
    """Costs of dropping blocks for one target, with its tolerances."""

    def __init__(self, tf: TargetFronts, latency_tolerance: float, quality_tolerance: float | None) -> None:
        self.tf, self.limit = tf, 1 + latency_tolerance
        self.qtol = tf.quality.default_tolerance() if quality_tolerance is None else quality_tolerance
        self.boots = {b: f.boot for b, f in tf.blocks.items() if f.boot is not None} if tf.n_boot else {}
        self.extended = False

    def _reach(self, member: str, curves: np.ndarray) -> np.ndarray:
        """A member's curves (b, G) as a cover: wherever ≥ m of its networks reach a level (beyond its top too,
        where replicates that lack them count against a drop), extended flat up to the quality tolerance above."""
        front, levels = self.tf.blocks[member], self.tf.levels
        defined = np.flatnonzero(np.isfinite(front.point))
        if not defined.size:
            return np.full(curves.shape, np.inf)
        last = defined[-1]
        near = (levels > levels[last]) & (levels <= self.tf.quality.reach(levels[last], self.qtol))
        out = np.where(near[None, :], curves[:, last : last + 1], curves)
        return np.where(np.isnan(out) & ~np.isfinite(front.point)[None, :] & ~near[None, :], np.inf, out)

    def _cost(self, y: str, members: list[str], boot: bool) -> np.ndarray:
        """(b,) geometric-mean cost of Y's occupied levels; inf where no member reaches a level; NaN where a
        replicate does not define Y's or a member's curve."""
        front = self.tf.blocks[y]
        mask = front.occupied(self.tf.levels)
        pick = (lambda b: self.boots[b]) if boot else (lambda b: self.tf.blocks[b].point[None, :])
        curves = np.array([self._reach(m, pick(m))[:, mask] for m in members])
        # A member undefined in a replicate (fewer than m of its networks there) is left out of the minimum: the
        # others' best is an upper bound on the cover, so that never favours a drop; all undefined stays NaN.
        defined = ~np.isnan(curves)
        cover = np.where(defined.any(axis=0), np.min(np.where(defined, curves, np.inf), axis=0), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.exp(np.mean(np.log(cover / pick(y)[:, mask]), axis=1))

    def cost(self, y: str, members: list[str]) -> float:
        """Point estimate of the cost of dropping Y while S = members is kept."""
        if not self.tf.blocks[y].occupied(self.tf.levels).any():
            return np.inf
        return float(self._cost(y, members, boot=False)[0])

    def support(self, dropped: list[str], kept: list[str]) -> tuple[float, int]:
        """(share of replicates in which every dropped block's cost is within tolerance, replicates); a
        replicate that does not define a cost counts against the drop."""
        if not self.boots or not dropped:
            return float("nan"), 0
        costs = [np.nan_to_num(self._cost(d, kept, boot=True), nan=np.inf) for d in dropped]
        ok = np.all([c <= self.limit for c in costs], axis=0)
        return float(np.mean(ok)), int(ok.size)

    def extend(self) -> None:
        """MORE_REPLICATES× more replicates for every block, from streams of their own (once)."""
        if self.extended or not self.boots:
            return
        tf, extra = self.tf, (MORE_REPLICATES - 1) * self.tf.n_boot
        for name, front in tf.blocks.items():
            rng = stream(tf.seed, tf.target, name, "more replicates")
            more = bootstrap_front(front, tf.levels, extra, rng, tf.m)
            self.boots[name] = np.concatenate([self.boots[name], more])
        self.extended = True


def decided(cover: Cover, dropped: list[str], kept: list[str], confidence: float) -> tuple[bool, float, int]:
    """Whether the support reaches `confidence`, with more replicates when it is within two Monte Carlo errors."""
    share, b = cover.support(dropped, kept)
    if b and abs(share - confidence) < 2 * support_error(share, b) and not cover.extended:
        cover.extend()
        share, b = cover.support(dropped, kept)
    return (share >= confidence) if b else True, share, b


def select(cover: Cover, confidence: float) -> tuple[list[str], list[str], set[str], set[str]]:
    """Greedy elimination: (kept, dropped in order, uncertain, too few networks)."""
    blocks = cover.tf.blocks
    small = {b for b, f in blocks.items() if f.n < MIN_NETWORKS or not f.estimable.any()}
    kept, dropped, uncertain = sorted(set(blocks) - small), [], set()
    while len(kept) > 1:
        candidates = []
        for c in kept:
            rest = [k for k in kept if k != c]
            if any(cover.cost(d, rest) > cover.limit for d in [*dropped, c]):
                continue
            if cover.tf.n_boot and not decided(cover, [*dropped, c], rest, confidence)[0]:
                uncertain.add(c)
                continue
            candidates.append((cover.cost(c, rest), c))
        if not candidates:
            break
        _, chosen = min(candidates)
        dropped.append(chosen)
        kept.remove(chosen)
    return kept, dropped, uncertain - set(dropped), small


def dominance_table(
    tf: TargetFronts, latency_tolerance: float = 0.02, quality_tolerance: float | None = None
) -> pd.DataFrame:
    """Every pair where one block alone is within tolerance of another on average over its range, with support."""
    cover, rows = Cover(tf, latency_tolerance, quality_tolerance), []
    for y in sorted(tf.blocks):
        for x in sorted(set(tf.blocks) - {y}):
            cost = cover.cost(y, [x])
            if cost <= cover.limit:
                share, b = cover.support([y], [x])
                row = {"target": tf.target, "dominated": y, "by": x, "cost": cost, "support": share}
                rows.append({**row, "support_se": support_error(share, b)})
    return pd.DataFrame(rows, columns=DOMINANCE_COLUMNS)


def recommend(
    tf: TargetFronts,
    shares: pd.DataFrame,
    groups: list[str],
    confidence: float = 0.95,
    latency_tolerance: float = 0.02,
    quality_tolerance: float | None = None,
) -> pd.DataFrame:
    """Verdict per block on one target (drop, keep, keep (uncertain), no verdict), or no data for a block in
    `groups` without a usable result here; with the cost, its bootstrap support and the evidence in words."""
    from hwbench.analysis.recommend_text import evidence

    cover = Cover(tf, latency_tolerance, quality_tolerance)
    kept, dropped, uncertain, small = select(cover, confidence)
    share = shares.set_index("group")["share_range"] if len(shares) else pd.Series(dtype=float)
    rows = []
    _, p_all, b_all = decided(cover, dropped, kept, confidence) if dropped else (True, np.nan, 0)
    for name, front in sorted(tf.blocks.items()):
        others = kept if name in dropped else [k for k in kept if k != name]
        row = {"target": tf.target, "group": name, "networks": front.n, "share_range": share.get(name, np.nan)}
        row.update(covered_by="", support=np.nan, support_se=np.nan, replicates=0)
        if name in small:
            row.update(verdict="no verdict")
        elif not others:
            row.update(verdict="keep")
        elif name in dropped:
            row.update(verdict="drop", covered_by=", ".join(_covering(cover, name, kept)))
            row.update(support=p_all, support_se=support_error(p_all, b_all), replicates=b_all)
        elif name in uncertain:
            _, p, b = decided(cover, [*dropped, name], others, confidence)
            row.update(verdict="keep (uncertain)", support=p, support_se=support_error(p, b), replicates=b)
        else:
            row.update(verdict="keep", stands_in=", ".join(d for d in dropped if name in _covering(cover, d, kept)))
        row["cost"] = cover.cost(name, others) if others and name not in small else np.nan
        row["evidence"] = evidence(cover, row, others, dropped, confidence, MIN_NETWORKS)
        rows.append(row)
    for name in sorted(set(groups) - set(tf.blocks)):
        rows.append(
            {
                "target": tf.target,
                "group": name,
                "networks": 0,
                "verdict": "no data",
                "evidence": "no successful measurement on this target (see its failed networks)",
            }
        )
    return pd.DataFrame(rows).reindex(columns=RECOMMEND_COLUMNS)


def _covering(cover: Cover, y: str, kept: list[str]) -> list[str]:
    """The kept blocks that are the fastest at some level of Y's range."""
    mask = cover.tf.blocks[y].occupied(cover.tf.levels)
    curves = np.array([cover._reach(k, cover.tf.blocks[k].point[None, :])[0, mask] for k in kept])
    return [kept[i] for i in sorted(set(np.argmin(curves, axis=0)))] if curves.size else []
