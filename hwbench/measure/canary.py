"""The canary: a tiny fixed reference workload timed beside every network; its drift says the machine changed.

It runs in the measuring process on the pinned cores, so a CPU hog sharing those cores, a lower clock or a busy
memory system slows it as it slows the network. Numpy only (the agent has numpy), single-threaded small matrix
products plus a strided reduction, each repetition a few milliseconds long: longer than a scheduler time slice,
so a process sharing the core shows up in every repetition, yet about 25 ms per call on a desktop core.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

REPEATS = 5  # timed repetitions per call; the median is the canary's figure
_SIZE = 48
_PASSES = 32  # about 4 ms per repetition


def _workload(a: np.ndarray, b: np.ndarray, big: np.ndarray) -> float:
    total = 0.0
    for _ in range(_PASSES):
        c = a
        for _ in range(12):
            c = np.tanh(c @ b)  # compute-bound, in cache
        total += float(c.sum() + big[::7].sum())  # plus a strided pass over ~2 MB: memory traffic
    return total


def run_canary(repeats: int = REPEATS) -> dict[str, Any]:
    """Time the reference workload `repeats` times after one warm-up; median and spread in milliseconds."""
    rng = np.random.default_rng(1234)
    a = rng.standard_normal((_SIZE, _SIZE)) / np.sqrt(_SIZE)
    b = rng.standard_normal((_SIZE, _SIZE)) / np.sqrt(_SIZE)
    big = rng.standard_normal(1 << 18)
    _workload(a, b, big)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        _workload(a, b, big)
        times.append((time.perf_counter_ns() - t0) / 1e6)
    times.sort()
    return {"median_ms": round(times[len(times) // 2], 5), "min_ms": round(times[0], 5), "repeats": repeats}


def drift(canary_ms: float | None, baseline_ms: float | None) -> float | None:
    """Relative slow-down of a canary against the target's baseline (negative: faster)."""
    if canary_ms is None or not baseline_ms:
        return None
    return canary_ms / baseline_ms - 1.0
