"""Was a timed window disturbed? Foreign CPU on the measured cores, steal, clock drop, throttling, canary drift.

The same rules judge local and board measurements (the board's measurement child returns the same figures).
"""

from __future__ import annotations

from typing import Any

from hwbench.measure.canary import drift

# Another process held more than this share of the measured cores' time (the measuring process itself, its
# runtime threads and 2 jiffies per core of tick rounding excluded). 10%: a quiet machine stays near 0-2%;
# a process sharing the core takes about half of it.
FOREIGN_SHARE_LIMIT = 0.10
STEAL_SHARE_LIMIT = 0.05  # the hypervisor ran someone else on our virtual CPU
FREQ_DROP_LIMIT = 0.10  # the clock fell by more than this across the window
# The canary ran this much slower than the target's baseline (the fastest canary seen in the target's block).
# Quiet repeats of the canary stay within a few percent; a process sharing the core doubles it.
CANARY_DRIFT_LIMIT = 0.20


class CanaryBaseline:
    """A target's canary baseline: the fastest canary seen so far in its block (disturbance only slows it)."""

    def __init__(self) -> None:
        self.best_ms: float | None = None

    def observe(self, canary: dict[str, Any] | None) -> float | None:
        """Fold a window's canary timings into the baseline; return the window's drift (the worse of its two)."""
        values = [v for v in (canary or {}).values() if isinstance(v, (int, float)) and v > 0]
        if not values:
            return None
        low = min(values)
        self.best_ms = low if self.best_ms is None else min(self.best_ms, low)
        return drift(max(values), self.best_ms)


def reasons(info: dict[str, Any], canary_drift: float | None) -> list[str]:
    """Why a window counts as disturbed (empty: it does not). Unreadable figures are not reasons."""
    found = []
    inter = info.get("interference") or {}
    share = inter.get("foreign_share")
    if share is not None and share > FOREIGN_SHARE_LIMIT:
        found.append(f"foreign CPU {share:.0%} of the measured cores")
    steal = inter.get("steal_share")
    if steal is not None and steal > STEAL_SHARE_LIMIT:
        found.append(f"steal {steal:.0%}")
    drop = inter.get("freq_drop")
    if drop is not None and drop > FREQ_DROP_LIMIT:
        found.append(f"clock fell {drop:.0%}")
    if inter.get("throttle_events"):
        found.append(f"{inter['throttle_events']} thermal throttle events")
    if canary_drift is not None and canary_drift > CANARY_DRIFT_LIMIT:
        found.append(f"canary {canary_drift:+.0%} from baseline")
    return found


def severity(info: dict[str, Any], canary_drift: float | None) -> float:
    """One number to keep the least disturbed of several attempts: the larger of foreign share and drift."""
    share = (info.get("interference") or {}).get("foreign_share") or 0.0
    return max(share, canary_drift or 0.0)
