"""The timing loop: warm-up by count and time, then timed runs until the median's CI is tight or a cap hits.

Convergence needs three things: the dependence-robust CI of the median within `rel_ci`, a series long enough for
that interval's batches to span several autocorrelation times, and no significant trend across the batches (a
heating or otherwise drifting machine keeps the loop going until a cap, then `stop_reason` says why).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hwbench.measure.stats import robust_median, trend


def min_runs_for(confidence: float) -> int:
    """Fewest runs whose median has a distribution-free interval at `confidence`: [min, max] of n runs covers the
    median with probability 1 - 2 * 0.5**n (5 runs: 93.75%, so 6 at 95%; 8 at 99%)."""
    n = 1
    while n < 64 and 1 - 2 * 0.5**n < confidence:
        n += 1
    return n


MIN_RUNS = min_runs_for(0.95)


@dataclass(frozen=True)
class Protocol:
    """Measurement policy, kept apart from the system measured (LoadGen/pytest-benchmark style)."""

    warmup_runs: int = 10
    warmup_seconds: float = 0.2
    min_runs: int = 20
    min_seconds: float = 0.1
    max_runs: int = 10_000
    max_seconds: float = 20.0
    rel_ci: float = 0.01  # stop once the CI half-width of the median is within this fraction of it
    confidence: float = 0.95
    cooldown_seconds: float = 0.0
    # Optional thermal wait before each network (done by the measurement job, see hwbench.measure.thermal).
    cooldown_below_c: float | None = None
    cooldown_timeout_s: float = 300.0
    cooldown_zone: str | None = None
    # Before timing, wait at most this long for the machine to be quiet (set by the driver on a re-measure): the
    # measured cores free of other processes and, when quiet_canary_ms > 0, the canary within its drift limit of
    # that baseline (the block's, for the canary kind this target runs). Not quiet by then: not measured.
    quiet_wait_seconds: float = 0.0
    quiet_canary_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (stored with every result)."""
        return asdict(self)


@dataclass(frozen=True)
class Timing:
    """Raw outcome of one protocol run."""

    samples_ns: np.ndarray
    warmup_runs: int
    converged: bool
    stop_reason: str
    device_seconds: float


def run_protocol(fn: Callable[[], Any], protocol: Protocol, clock: Callable[[], int] = time.perf_counter_ns) -> Timing:
    """Time `fn` (one inference, inputs already bound) under `protocol`."""
    p = protocol
    if p.cooldown_seconds > 0:
        time.sleep(p.cooldown_seconds)
    begin = clock()
    warm = 0
    warm_ns = int(p.warmup_seconds * 1e9)
    max_ns = int(p.max_seconds * 1e9)
    # Warm-up stops at its count and time, or early at the overall time cap (a very slow model).
    while warm < p.warmup_runs or clock() - begin < warm_ns:
        fn()
        warm += 1
        if clock() - begin >= max_ns:
            break
    buf = np.empty(max(p.max_runs, 1), dtype=np.int64)
    min_ns = int(p.min_seconds * 1e9)
    start = clock()
    # Never fewer runs than the interval needs, whatever a job asked for (only max_runs stops earlier).
    min_runs = max(p.min_runs, min_runs_for(p.confidence))
    next_check = min_runs
    n = 0
    converged, reason = False, "max_runs"
    while True:
        t0 = clock()
        fn()
        t1 = clock()
        buf[n] = t1 - t0
        n += 1
        elapsed = t1 - start
        if n >= next_check and elapsed >= min_ns:
            # The CI check sorts the samples; spacing checks by 10% of n keeps its cost O(n log n) overall.
            next_check = n + max(10, n // 10)
            found = robust_median(buf[:n], p.confidence)
            lo, hi, mid = found["ci_low"], found["ci_high"], found["median"]
            tight = mid > 0 and (hi - lo) / 2 <= p.rel_ci * mid
            if tight and found["enough"]:
                if not trend(buf[:n], found.get("batch_medians"))["significant"]:
                    converged, reason = True, "ci"
                    break
                reason = "trend"
        if n >= p.max_runs:
            reason = "max_runs" if reason != "trend" else reason
            break
        if elapsed >= max_ns and n >= min(min_runs, p.max_runs):
            reason = "max_seconds" if reason != "trend" else reason
            break
    return Timing(
        samples_ns=buf[:n].copy(),
        warmup_runs=warm,
        converged=converged,
        stop_reason=reason,
        device_seconds=(clock() - begin) / 1e9,
    )
