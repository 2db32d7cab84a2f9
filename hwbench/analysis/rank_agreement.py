"""Do blocks rank alike on two targets? Kendall τ with a paired bootstrap, and P(same best block).

The ranking of blocks on a target is by score: the geometric mean, over the accuracy (or complexity) levels every
block covers, of a block's front latency over the fastest block's (hwbench.analysis.ranking). A cross-target
claim uses only the networks that succeeded on every target (conversion failures are not missing at random: a
block whose large networks fail to convert on one target would otherwise look faster there). Each bootstrap
replicate resamples every block's networks once, with replacement, and scores that *same* resample on every
target, so the targets' scores are paired as the point estimates are; τ of each pair of targets and whether they
agree on the best block are read off every replicate. The interval is the percentile interval of τ; P(same best)
is the share of replicates in which the two targets name the same best block (bootstrap support, not a calibrated
probability; tests/analysis/test_rank_agreement.py checks both against a known truth).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from hwbench.analysis.stepfront import stream

AGREEMENT_COLUMNS = [
    "target_a",
    "target_b",
    "n_blocks",
    "networks",
    "kendall_tau",
    "tau_ci_low",
    "tau_ci_high",
    "same_best",
    "p_same_best",
    "replicates",
]
LEVELS = 64  # quality levels of the score (quantiles of the common networks' qualities)
_CHUNK = 2_000_000  # replicates × networks per vectorised step


def common_networks(data: pd.DataFrame, quality: str) -> pd.DataFrame:
    """(arch_id × target) latencies of the networks with a result and a quality on every target, with group."""
    has = data[data[quality].notna()]
    targets = has["target"].nunique()
    lat = has.pivot_table(index="arch_id", columns="target", values="median_ms", aggfunc="first")
    lat = lat[lat.notna().sum(axis=1) == targets]
    info = has.drop_duplicates("arch_id").set_index("arch_id").loc[lat.index, ["group", quality]]
    return pd.concat([info, lat], axis=1).sort_values(["group", quality], ascending=[True, False])


def _fronts(q_desc: np.ndarray, lats: dict[str, np.ndarray], picks: np.ndarray, levels: np.ndarray):
    """Per replicate (rows of picks, indices into the block's networks, sorted by quality descending) and per
    target: L at each level and the quality of the fastest network picked; and the best quality picked."""
    b, n = picks.shape
    present = np.zeros((b, n), dtype=bool)
    present[np.arange(b)[:, None], picks] = True  # one presence mask, shared by every target
    k = q_desc.size - np.searchsorted(q_desc[::-1], levels, side="left")
    out = {}
    for target, lat in lats.items():
        masked = np.where(present, lat[None, :], np.inf)
        front = np.minimum.accumulate(masked, axis=1)[:, np.maximum(k - 1, 0)]
        front[:, k == 0] = np.inf
        out[target] = (front, q_desc[np.argmin(masked, axis=1)])
    return out, q_desc[picks.min(axis=1)]


def _scores(fronts: np.ndarray, lows: np.ndarray, highs: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """(blocks, B, G) fronts → (B, blocks) scores over the levels every block covers in that replicate."""
    top = highs.min(axis=0)[:, None]
    common = (levels[None, :] >= lows.max(axis=0)[:, None]) & (levels[None, :] <= top)
    none = ~common.any(axis=1)
    common[none] = levels[None, :] <= top[none]  # no shared range: every level all blocks reach
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.log(fronts / fronts.min(axis=0, keepdims=True))
        rel = np.where(common[None], rel, 0.0)
        return np.exp(rel.sum(axis=2) / common.sum(axis=1)[None, :]).T


def rank_agreement(data: pd.DataFrame, quality: str, n_boot: int, seed: int = 0, confidence: float = 0.95):
    """One row per pair of targets: τ of block scores on the common networks, its paired-bootstrap interval,
    the same-best verdict and its bootstrap support."""
    targets = sorted(data["target"].unique())
    nets = common_networks(data, quality) if len(targets) >= 2 else pd.DataFrame()
    if nets.empty:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    blocks = [g for g, part in nets.groupby("group", sort=True) if len(part) >= 2]
    if len(blocks) < 2:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    nets = nets[nets["group"].isin(blocks)]
    qualities = nets[quality].to_numpy(dtype=float)
    levels = np.unique(np.quantile(qualities, np.linspace(0, 1, LEVELS)))
    point = _replicate_scores(nets, blocks, quality, targets, levels, None, 0)
    boot = _replicate_scores(nets, blocks, quality, targets, levels, n_boot, seed) if n_boot else {}
    rows = []
    alpha = 1 - confidence
    for ta, tb in combinations(targets, 2):
        a, b = point[ta][0], point[tb][0]
        tau = float(tau_b(a[None, :], b[None, :])[0])
        taus = tau_b(boot[ta], boot[tb]) if n_boot else np.empty(0)
        taus = taus[np.isfinite(taus)]
        same = np.argmin(boot[ta], axis=1) == np.argmin(boot[tb], axis=1) if n_boot else np.empty(0)
        rows.append(
            {
                "target_a": ta,
                "target_b": tb,
                "n_blocks": len(blocks),
                "networks": len(nets),
                "kendall_tau": tau,
                "tau_ci_low": np.quantile(taus, alpha / 2) if taus.size else np.nan,
                "tau_ci_high": np.quantile(taus, 1 - alpha / 2) if taus.size else np.nan,
                "same_best": bool(np.argmin(a) == np.argmin(b)),
                "p_same_best": float(same.mean()) if same.size else np.nan,
                "replicates": int(taus.size),
            }
        )
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def tau_b(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kendall τ-b of each row of a against the same row of b (NaN where a row is all ties)."""
    i, j = np.triu_indices(a.shape[1], 1)
    sa, sb = np.sign(a[:, i] - a[:, j]), np.sign(b[:, i] - b[:, j])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sa * sb).sum(axis=1) / np.sqrt((sa != 0).sum(axis=1) * (sb != 0).sum(axis=1))


def _replicate_scores(
    nets: pd.DataFrame,
    blocks: list[str],
    quality: str,
    targets: list[str],
    levels: np.ndarray,
    n_boot: int | None,
    seed: int,
) -> dict[str, np.ndarray]:
    """Per target, (replicates, blocks) scores; n_boot None: the point estimate (one 'replicate', all networks).
    Each block is resampled once per replicate and that resample is scored on every target."""
    fronts: dict[str, list] = {t: [] for t in targets}
    lows: dict[str, list] = {t: [] for t in targets}
    highs = []
    for block in blocks:
        part = nets[nets["group"] == block]
        q_desc = part[quality].to_numpy(dtype=float)  # nets is sorted by quality, descending, within a block
        lats = {t: part[t].to_numpy(dtype=float) for t in targets}
        n = q_desc.size
        rng = stream(seed, f"rank-agreement/{block}")  # the same stream per block whatever else the store holds
        picks = np.arange(n)[None, :] if n_boot is None else rng.integers(0, n, (n_boot, n))
        step = max(1, _CHUNK // n)
        chunks = [_fronts(q_desc, lats, picks[s : s + step], levels) for s in range(0, len(picks), step)]
        highs.append(np.concatenate([hi for _, hi in chunks]))
        for t in targets:
            fronts[t].append(np.concatenate([c[t][0] for c, _ in chunks]))
            lows[t].append(np.concatenate([c[t][1] for c, _ in chunks]))
    top = np.array(highs)
    return {t: _scores(np.array(fronts[t]), np.array(lows[t]), top, levels) for t in targets}
