"""Does the ranking of blocks hold from one target to another? Kendall tau of per-target block rankings.

A block's score on a target is the geometric mean, over the accuracy levels every ranked block occupies there, of
its best-of-m latency θ (hwbench.analysis.stepfront) over the lowest θ of the ranked blocks (1.0 = the fastest at
every level). Lower is better; rank 1 is best. Only blocks that share levels are ranked: the ranked set is the
blocks occupying the level most blocks occupy (ties: the highest such level); a block outside it is "not ranked"
and the note says where its networks lie ("cheapest below X" belongs to the recommendation, which checks it).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from hwbench.analysis.stepfront import TargetFronts

RANK_COLUMNS = ["target", "group", "score", "rank", "level_lo", "level_hi", "note"]
TAU_COLUMNS = ["target_a", "target_b", "n_blocks", "kendall_tau", "p_value", "same_best"]


def ranked_set(tf: TargetFronts) -> tuple[list[str], np.ndarray]:
    """(blocks ranked, levels they all occupy): those occupying the level most blocks occupy, the highest on ties."""
    blocks = sorted(tf.blocks)
    occupied = np.array([tf.blocks[b].occupied(tf.levels) for b in blocks]).reshape(len(blocks), -1)
    counts = occupied.sum(axis=0)
    if not counts.size or counts.max() == 0:
        return [], np.zeros(tf.levels.size, bool)
    at = int(np.flatnonzero(counts == counts.max())[-1])
    ranked = [b for b, occ in zip(blocks, occupied) if occ[at]]
    return ranked, np.all([tf.blocks[b].occupied(tf.levels) for b in ranked], axis=0)


def block_scores(tf: TargetFronts) -> pd.DataFrame:
    """Score and rank of each block on one target (NaN and a note for a block outside the shared levels)."""
    blocks = sorted(tf.blocks)
    if not blocks:
        return pd.DataFrame(columns=RANK_COLUMNS)
    ranked, common = ranked_set(tf)
    q, rows = tf.quality, []
    score = {}
    if len(ranked) and common.any():
        curves = np.array([tf.blocks[b].point[common] for b in ranked])
        score = dict(zip(ranked, np.exp(np.log(curves / curves.min(axis=0)).mean(axis=1))))
    lo, hi = (tf.levels[common].min(), tf.levels[common].max()) if common.any() else (np.nan, np.nan)
    ranks = dict(zip(score, stats.rankdata(list(score.values()), method="min").astype(int))) if score else {}
    for b in blocks:
        f = tf.blocks[b]
        note = ""
        if b not in score:
            where = "below" if f.hi < lo else "above" if f.lo > hi else "outside"
            note = (
                f"not ranked: too few networks ({f.n}) to estimate its best of {tf.m}"
                if not f.estimable.any()
                else f"not ranked: its networks occupy {q.span(f.lo, f.top)}, {where} the levels the ranked blocks "
                f"share ({q.span(lo, hi)})"
            )
        rows.append(
            {
                "target": tf.target,
                "group": b,
                "score": score.get(b, np.nan),
                "rank": ranks.get(b, np.nan),
                "level_lo": lo,
                "level_hi": hi,
                "note": note,
            }
        )
    return pd.DataFrame(rows, columns=RANK_COLUMNS)


def rank_tables(fronts: dict[str, TargetFronts]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ranks per target, Kendall tau per pair of targets over the blocks both have)."""
    ranks = [block_scores(tf) for tf in fronts.values()]
    ranks = pd.concat(ranks, ignore_index=True) if ranks else pd.DataFrame(columns=RANK_COLUMNS)
    rows = []
    for ta, tb in combinations(sorted(fronts), 2):
        a = ranks[ranks["target"] == ta].set_index("group")["score"].dropna()
        b = ranks[ranks["target"] == tb].set_index("group")["score"].dropna()
        shared = sorted(set(a.index) & set(b.index))
        tau = p = np.nan
        if len(shared) >= 2:
            tau, p = stats.kendalltau(a[shared].to_numpy(), b[shared].to_numpy())
        same = bool(shared) and a[shared].idxmin() == b[shared].idxmin()
        rows.append(
            {
                "target_a": ta,
                "target_b": tb,
                "n_blocks": len(shared),
                "kendall_tau": tau,
                "p_value": p,
                "same_best": same,
            }
        )
    return ranks, pd.DataFrame(rows, columns=TAU_COLUMNS)
