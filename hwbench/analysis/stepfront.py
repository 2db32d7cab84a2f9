"""Each block's front as a step function L(q): the lowest latency among its networks with quality ≥ q.

L is non-decreasing in q, infinite above the block's best quality, and changes value only at the block's
front points; all blocks of a target are evaluated on one grid of quality levels that contains every front
point, so ratios and dominance checks on the grid are exact for the measured data. Bootstrap replicates
resample each block's networks with replacement and draw each network's median from its measurement-noise
table (hwbench.analysis.median_noise); only which networks are present matters to a front, so a replicate is
a presence mask, a noisy latency per network and one cumulative minimum, all vectorised.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hwbench.analysis.data import Quality, accuracy_draws, eval_sizes
from hwbench.analysis.front_draws import replicate_front
from hwbench.analysis.pareto import pareto_mask

# Elements (replicates × networks) handled per vectorised chunk: bounds memory at ~100 MB whatever the sweep size.
_CHUNK = 1_500_000


@dataclass
class BlockFront:
    """One block on one target: its front on the level grid, point estimate and bootstrap replicates."""

    block: str
    n: int
    point: np.ndarray  # (G,) L(level); inf above the best quality
    lo: float  # quality of the fastest network: the low end of the front
    hi: float  # best quality: the high end of the front
    q_desc: np.ndarray  # qualities sorted high → low
    cummin: np.ndarray  # running minimum latency along q_desc (exact L at any level)
    boot: np.ndarray | None = None  # (B, G)
    boot_lo: np.ndarray | None = None  # (B,)
    boot_hi: np.ndarray | None = None  # (B,)
    boot_top: np.ndarray | None = None  # (B,) latency of the replicate's most accurate network

    def at(self, levels: np.ndarray) -> np.ndarray:
        """Exact L at any quality levels (inf where the block never reaches the level)."""
        k = _count_at_least(self.q_desc, np.asarray(levels, dtype=float))
        return np.where(k > 0, self.cummin[np.maximum(k - 1, 0)], np.inf)


@dataclass
class TargetFronts:
    """Every block's front on one target, on a shared quality grid."""

    target: str
    quality: Quality
    levels: np.ndarray
    blocks: dict[str, BlockFront] = field(default_factory=dict)
    n_boot: int = 0


def stream(seed: int, *names: str) -> np.random.Generator:
    """An independent, reproducible generator per (seed, target, block): results never depend on what else ran."""
    keys = [int.from_bytes(hashlib.sha256(n.encode()).digest()[:8], "little") for n in names]
    return np.random.default_rng(np.random.SeedSequence([int(seed), *keys]))


def _count_at_least(q_desc: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """How many of the (descending) qualities are ≥ each level."""
    return q_desc.size - np.searchsorted(q_desc[::-1], levels, side="left")


def level_grid(groups: dict[str, tuple[np.ndarray, np.ndarray]], max_levels: int) -> np.ndarray:
    """Every block's front qualities, plus up to max_levels levels spread evenly by rank over all qualities."""
    fronts = [q[pareto_mask(lat, q)] for q, lat in groups.values()]
    every = np.unique(np.concatenate([q for q, _ in groups.values()]))
    if every.size > max_levels:
        every = every[np.unique(np.linspace(0, every.size - 1, max_levels).round().astype(int))]
    return np.unique(np.concatenate([every, *fronts]))


def block_front(block: str, q: np.ndarray, lat: np.ndarray, levels: np.ndarray) -> BlockFront:
    """Point estimate of one block's front."""
    order = np.argsort(-q, kind="stable")
    q_desc, cummin = q[order], np.minimum.accumulate(lat[order])
    fastest = np.flatnonzero(lat == lat.min())
    front = BlockFront(block, q.size, np.empty(0), float(q[fastest].max()), float(q.max()), q_desc, cummin)
    front.point = front.at(levels)
    return front


def bootstrap_front(
    front: BlockFront, noise: np.ndarray, levels: np.ndarray, n_boot: int, rng, acc_n: np.ndarray | None = None
) -> None:
    """Fill front.boot/boot_lo/boot_hi: networks resampled with replacement, medians drawn from their noise
    (and, given acc_n evaluation sizes in q_desc order, accuracies redrawn from their binomial posterior)."""
    n, n_q = noise.shape
    k = _count_at_least(front.q_desc, levels)
    reach, col = k > 0, np.maximum(k - 1, 0)
    front.boot = np.empty((n_boot, levels.size))
    front.boot_lo, front.boot_hi, front.boot_top = np.empty(n_boot), np.empty(n_boot), np.empty(n_boot)
    step = max(1, _CHUNK // max(n, 1))
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        present = np.zeros((b, n), dtype=bool)
        present[np.arange(b)[:, None], rng.integers(0, n, (b, n))] = True
        lat = noise[np.arange(n)[None, :], rng.integers(0, n_q, (b, n))]
        lat[~present] = np.inf
        rows = slice(start, start + b)
        if acc_n is not None:
            q_rep = accuracy_draws(front.q_desc, acc_n, rng, b)
            front.boot[rows], front.boot_lo[rows], front.boot_hi[rows], front.boot_top[rows] = replicate_front(
                q_rep, lat, present, levels
            )
            continue
        running = np.minimum.accumulate(lat, axis=1)
        front.boot[rows] = np.where(reach, running[:, col], np.inf)
        first = np.argmax(present, axis=1)  # the most accurate network present
        front.boot_hi[rows] = front.q_desc[first]
        front.boot_top[rows] = lat[np.arange(b), first]
        front.boot_lo[rows] = front.q_desc[np.argmin(lat, axis=1)]  # first minimum: highest quality among ties


def target_fronts(
    data: pd.DataFrame,
    quality: Quality,
    noise: np.ndarray | None = None,
    n_boot: int = 0,
    seed: int = 0,
    max_levels: int = 256,
) -> dict[str, TargetFronts]:
    """Fronts per target and block (`group` column) of usable results that have a quality value.

    noise: (rows of data, Q) median quantiles aligned with data's rows (positional); needed when n_boot > 0.
    """
    q_all = data[quality.column].to_numpy(dtype=float)
    lat_all = data["median_ms"].to_numpy(dtype=float)
    n_eval = eval_sizes(data) if quality.is_accuracy else np.full(len(data), np.nan)
    positions: dict[str, dict[str, np.ndarray]] = {}
    for (target, block), rows in sorted(data.groupby(["target", "group"], sort=True).indices.items()):
        positions.setdefault(str(target), {})[str(block)] = rows
    out: dict[str, TargetFronts] = {}
    for target, blocks in positions.items():
        levels = level_grid({b: (q_all[r], lat_all[r]) for b, r in blocks.items()}, max_levels)
        tf = out[target] = TargetFronts(target, quality, levels, n_boot=n_boot if noise is not None else 0)
        for block, rows in blocks.items():
            front = tf.blocks[block] = block_front(block, q_all[rows], lat_all[rows], levels)
            if tf.n_boot:
                order = np.argsort(-q_all[rows], kind="stable")  # the same order as front.q_desc
                acc_n = n_eval[rows[order]] if np.isfinite(n_eval[rows]).any() else None
                bootstrap_front(front, noise[rows[order]], levels, n_boot, stream(seed, target, block), acc_n)
    return out
