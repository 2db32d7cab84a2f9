"""The machine's speed during a target's block, from its canaries, and whether two blocks ran at different speeds.

A block's canary figure (kind, median, count, spread) is stored with every measurement the block made, so a later
analysis can relate a stored latency to the speed of the machine when it was measured (docs/measurement.md).
Two blocks' canaries differ when their medians are further apart than their own noise explains: more than
SHIFT_Z standard errors of the difference of two medians, and never less than SHIFT_FLOOR. Standard library only.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from typing import Any

from hwbench.measure.disturbance import canary_kind

# Standard errors of the difference of two block medians beyond which their canaries differ: 3 makes a false
# warning rare (0.3% for a normal law) even with a few shared sweeps, while a 5% shift stays far above the
# ~0.5% standard error of a block of 40 networks x 2 rounds.
SHIFT_Z = 3.0
# Never finer than this: below 1% the canary-normalised comparison cannot resolve a shift either (after dividing
# by the canary, back-to-back sweeps still differ by 1.5-2.4%, benchmarks/measure_trust.py), and the timings are
# serially dependent, so a very long block's standard error is optimistic.
SHIFT_FLOOR = 0.01
# Per-timing relative spread assumed when a block has too few canary timings (< 3) to estimate its own: the high
# end of what quiet repeats show (2-3.5% on this machine's 1-thread targets).
DEFAULT_REL_SD = 0.05
_MAD_SD = 1.4826  # MAD -> standard deviation of a normal law
_MEDIAN_SE = 1.2533  # standard error of a median of n normal values, in standard deviations / sqrt(n)


def block_canary(windows: Iterable[tuple[dict[str, Any] | None, bool]]) -> dict[str, Any] | None:
    """{kind, median_ms, n, rel_sd} of a block's canary timings, from (window canary, window disturbed) pairs.

    The kind with the most timings is summarised (a block runs one canary; a fallback never mixes with it); the
    timings of disturbed windows are left out while clean ones exist (a disturbance slows the canary, not the
    machine's usual speed). rel_sd: the timings' robust standard deviation over the median (None below 3)."""
    by_kind: dict[str, list[tuple[float, bool]]] = {}
    for canary, disturbed in windows:
        for key in ("before_ms", "after_ms"):
            value = (canary or {}).get(key)
            if isinstance(value, (int, float)) and value > 0:
                by_kind.setdefault(canary_kind(canary), []).append((float(value), disturbed))
    if not by_kind:
        return None
    kind = max(sorted(by_kind), key=lambda k: len(by_kind[k]))
    values = [v for v, d in by_kind[kind] if not d] or [v for v, _ in by_kind[kind]]
    median = statistics.median(values)
    rel_sd = None
    if len(values) >= 3:
        rel_sd = round(_MAD_SD * statistics.median(abs(v - median) for v in values) / median, 6)
    return {"kind": kind, "median_ms": round(median, 6), "n": len(values), "rel_sd": rel_sd}


def median_rel_se(n: int | None, rel_sd: float | None) -> float:
    """Relative standard error of a block's canary median from its count and spread (DEFAULT_REL_SD if unknown)."""
    count = int(n) if n is not None and n == n and n >= 1 else 1
    sd = rel_sd if rel_sd is not None and rel_sd == rel_sd and count >= 3 else DEFAULT_REL_SD
    return _MEDIAN_SE * sd / math.sqrt(count)


def shift_tolerance(n_a: int | None, sd_a: float | None, n_b: int | None, sd_b: float | None) -> float:
    """How far (|ln| of the ratio) two blocks' canary medians may differ from noise alone."""
    return max(SHIFT_FLOOR, SHIFT_Z * math.hypot(median_rel_se(n_a, sd_a), median_rel_se(n_b, sd_b)))


def speed_differs(ratio: float, tolerance: float) -> bool:
    """Whether a canary ratio B/A says the machine ran at another speed (beyond the tolerance)."""
    return bool(ratio > 0 and abs(math.log(ratio)) > tolerance)
