"""Each block's front as a quantity that does not depend on how many networks were sampled: best-of-m curves.

The sample front (the fastest network at each quality) is an extreme: it improves with every network added, so
two blocks with different n, or the same block sampled twice, give different fronts, and a bootstrap of an
extreme is inconsistent. hwbench compares blocks on θ(a) = the expected lowest latency among m networks drawn at
random from the block's networks that reach quality level a — "the best of m networks at quality ≥ a". θ does
not depend on n; its estimator is the U-statistic over every m-subset of the networks reaching a,
Σ_j L₍ⱼ₎·C(k−j, m−1)/C(k, m) over their sorted latencies, which is unbiased, and a smooth functional, so a
bootstrap of networks is valid for it (docs/statistics.md gives the simulations).

Levels lie on a fixed absolute grid (every 0.5 accuracy points, or 5% of complexity), so a pair of blocks is
always compared at the same levels whatever else is analysed. A block is evaluated at every level up to the
quality reached by REACH·m of its networks: at that top level a bootstrap replicate still holds m of them with
probability ≈ 0.99, so replicates rarely fail to cover it. Bootstrap replicates resample networks with
replacement (a replicate is a multiplicity per network), draw each median from its measurement-noise table
(hwbench.analysis.median_noise) and, when evaluation sizes are known, each accuracy from its binomial posterior
(a mAP with a bootstrap interval: from a normal law with the interval's standard error).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hwbench.analysis.data import Quality, accuracy_draws, accuracy_spread

M = 3  # networks per best-of-m draw
REACH = 3  # a level is estimable for a block when ≥ REACH·M of its networks reach it
STEP_ACCURACY = 0.005  # grid step of accuracy levels (0.5 points)
STEP_LOG = 0.05  # grid step of log complexity levels (5%)
CAP = 200  # above this many networks a block's curve uses a seeded random subsample of CAP of them
_CHUNK = 1_500_000  # elements (replicates × levels × networks) per vectorised chunk: bounds memory


@dataclass
class BlockFront:
    """One block on one target: its best-of-m curve on the target's levels, with bootstrap replicates."""

    block: str
    n: int  # networks with a quality value (before any subsample)
    q: np.ndarray  # qualities of the networks used
    lat: np.ndarray  # their median latencies
    lo: float  # least accurate network: the low end of the block's range
    top: float  # highest quality reached by REACH·m networks (nan when fewer): the top of its range
    hi: float  # best quality
    point: np.ndarray  # (G,) θ at each level with ≥ m networks (beyond top too: a kept block covers with it)
    core: np.ndarray | None = None  # (G,) levels up to top: where the block is compared
    boot: np.ndarray | None = None  # (B, G); NaN where a replicate has fewer than m networks at the level
    noise: np.ndarray | None = None  # (networks, Q) median quantiles, for more replicates on demand
    acc_n: np.ndarray | None = None  # evaluation images per network (NaN unknown), for accuracy redraws
    acc_sd: np.ndarray | None = None  # standard error of each network's mAP (NaN: none), for mAP redraws

    @property
    def estimable(self) -> np.ndarray:
        """Levels at which the block has a point estimate: up to its top (below its least accurate network every
        network reaches the level, so θ there is its unconditional best of m)."""
        return np.isfinite(self.point) & (self.core if self.core is not None else True)

    @property
    def compared(self) -> np.ndarray:
        """The point curve where estimable, NaN elsewhere."""
        return np.where(self.estimable, self.point, np.nan)

    def occupied(self, levels: np.ndarray) -> np.ndarray:
        """Estimable levels its networks occupy: from its least accurate network to its top."""
        return self.estimable & (levels >= self.lo)


@dataclass
class TargetFronts:
    """Every block's curve on one target, on a shared absolute grid of quality levels."""

    target: str
    quality: Quality
    levels: np.ndarray
    blocks: dict[str, BlockFront] = field(default_factory=dict)
    n_boot: int = 0
    m: int = M
    seed: int = 0


def stream(seed: int, *names: str) -> np.random.Generator:
    """An independent, reproducible generator per (seed, target, block): results never depend on what else ran."""
    keys = [int.from_bytes(hashlib.sha256(n.encode()).digest()[:8], "little") for n in names]
    return np.random.default_rng(np.random.SeedSequence([int(seed), *keys]))


def level_grid(lo: float, hi: float, log: bool) -> np.ndarray:
    """The absolute grid's levels in [lo, hi]: multiples of the step (in log space for complexity)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo or (log and lo <= 0):
        return np.empty(0)
    step = STEP_LOG if log else STEP_ACCURACY
    a, b = (np.log(lo), np.log(hi)) if log else (lo, hi)
    k = np.arange(np.ceil(a / step - 1e-9), np.floor(b / step + 1e-9) + 1)
    # rounded so that a level like 0.65 is the same double as an accuracy of 0.65 (k/N images often lands on it)
    return np.exp(k * step) if log else np.round(k * step, 12)


def best_of_m(q: np.ndarray, lat: np.ndarray, w: np.ndarray, levels: np.ndarray, m: int) -> np.ndarray:
    """(b, n) qualities, latencies and multiplicities → (b, G) U-statistic of the best of m at each level.

    Among the k copies reaching a level, a random m-subset's best is ≥ the i-th lowest latency with probability
    C(Tᵢ, m)/C(k, m), Tᵢ the copies at rank ≥ i; so E[best] = Σᵢ (L₍ᵢ₎ − L₍ᵢ₋₁₎)·C(Tᵢ, m)/C(k, m).
    """
    order = np.argsort(lat, axis=1, kind="stable")
    lat_s, q_s, w_s = (np.take_along_axis(np.asarray(a), order, 1) for a in (lat, q, w))
    delta = np.diff(lat_s, axis=1, prepend=0).astype(np.float32)
    # float32 halves the memory traffic; counts stay exact to 2^24 and the ratio to ~1e-7.
    tail = np.where(q_s[:, None, :] >= levels[None, :, None], w_s[:, None, :].astype(np.float32), np.float32(0))
    tail = np.cumsum(tail[..., ::-1], axis=-1)[..., ::-1]
    falling = np.ones_like(tail)
    for i in range(m):  # m! · C(T, m) as a falling factorial, 0 where T < m
        falling *= np.maximum(tail - i, 0)
    k = tail[..., 0].astype(np.float64)
    total = np.prod([np.maximum(k - i, 0) for i in range(m)], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.matmul(falling, delta[:, :, None])[..., 0] / total
    return np.where(k >= m, value, np.nan)


def block_front(block: str, q: np.ndarray, lat: np.ndarray, levels: np.ndarray, m: int = M) -> BlockFront:
    """Point estimate of one block's best-of-m curve on the levels (compared up to its top)."""
    n = q.size
    q_desc = np.sort(q)[::-1]
    top = float(q_desc[REACH * m - 1]) if n >= REACH * m else np.nan
    front = BlockFront(block, n, q, lat, float(q.min()), top, float(q.max()), np.full(levels.size, np.nan))
    front.core = levels <= top if np.isfinite(top) else np.zeros(levels.size, bool)
    front.point = _evaluate(front, q[None], lat[None], np.ones((1, n)), levels, m)[0]
    return front


def _evaluate(front: BlockFront, q, lat, w, levels: np.ndarray, m: int) -> np.ndarray:
    """(b, G) curves; below the block's least accurate network every network reaches the level, so θ there is
    the unconditional best of m (one column, broadcast); NaN where fewer than m networks reach a level. Above the
    top the values only serve the keep/drop cover, where non-covering replicates count against a drop."""
    out = np.full((q.shape[0], levels.size), np.nan)
    if not np.isfinite(front.top):
        return out
    above = (levels >= front.lo) & (levels <= front.hi)
    below = levels < front.lo
    values = best_of_m(q, lat, w, np.concatenate([[-np.inf], levels[above]]), m)
    out[:, above] = values[:, 1:]
    out[:, below] = values[:, :1]
    return out


def bootstrap_front(
    front: BlockFront, levels: np.ndarray, n_boot: int, rng: np.random.Generator, m: int = M
) -> np.ndarray:
    """(n_boot, G) replicates: networks resampled with replacement, medians (and accuracies) redrawn."""
    n = front.q.size
    out = np.full((n_boot, levels.size), np.nan)
    if not front.estimable.any():
        return out
    step = max(1, _CHUNK // max(n * int((levels >= front.lo).sum() + 1), 1))
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        pick = rng.integers(0, n, (b, n))
        w = np.bincount((pick + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n)
        if front.noise is not None:
            lat = front.noise[np.arange(n)[None, :], rng.integers(0, front.noise.shape[1], (b, n))]
        else:
            lat = np.broadcast_to(front.lat, (b, n))
        if front.acc_n is not None or front.acc_sd is not None:
            unknown = np.full(n, np.nan)
            acc_n = front.acc_n if front.acc_n is not None else unknown
            q = accuracy_draws(front.q, acc_n, rng, b, front.acc_sd)
        else:
            q = np.broadcast_to(front.q, (b, n))
        out[start : start + b] = _evaluate(front, q, lat, w.astype(float), levels, m)
    return out


def target_fronts(
    data: pd.DataFrame,
    quality: Quality,
    noise: np.ndarray | None = None,
    n_boot: int = 0,
    seed: int = 0,
    m: int = M,
) -> dict[str, TargetFronts]:
    """Best-of-m curves per target and block (`group` column) of usable results that have a quality value.

    noise: (rows of data, Q) median quantiles aligned with data's rows (positional); needed when n_boot > 0.
    """
    q_all = data[quality.column].to_numpy(dtype=float)
    lat_all = data["median_ms"].to_numpy(dtype=float)
    n_eval, sd_eval = accuracy_spread(data, quality)
    positions: dict[str, dict[str, np.ndarray]] = {}
    for (target, block), rows in sorted(data.groupby(["target", "group"], sort=True).indices.items()):
        positions.setdefault(str(target), {})[str(block)] = rows
    out: dict[str, TargetFronts] = {}
    for target, blocks in positions.items():
        qualities = [q_all[r] for r in blocks.values()]
        levels = level_grid(min(q.min() for q in qualities), max(q.max() for q in qualities), quality.log)
        tf = out[target] = TargetFronts(target, quality, levels, n_boot=n_boot if noise is not None else 0, m=m)
        tf.seed = seed
        for block, rows in blocks.items():
            rng = stream(seed, target, block)
            if rows.size > CAP:
                rows = np.sort(rng.choice(rows, CAP, replace=False))
            front = tf.blocks[block] = block_front(block, q_all[rows], lat_all[rows], levels, m)
            front.n = len(blocks[block])
            if tf.n_boot:
                front.noise = noise[rows]
                front.acc_n = n_eval[rows] if np.isfinite(n_eval[rows]).any() else None
                front.acc_sd = sd_eval[rows] if np.isfinite(sd_eval[rows]).any() else None
                front.boot = bootstrap_front(front, levels, n_boot, rng, m)
    return out
