"""Was a timed window disturbed? Foreign CPU on the measured cores, steal, clock drop, throttling, canary drift.

The same rules judge local and board measurements (the board's measurement child returns the same figures).
"""

from __future__ import annotations

from typing import Any

from hwbench.measure.canary import NUMPY_KIND, drift

# Another process held more than this share of the measured cores' time (the measuring process itself, its
# runtime threads and 2 jiffies per core of tick rounding excluded). 10%: a quiet machine stays near 0-2%;
# a process sharing the core takes about half of it.
FOREIGN_SHARE_LIMIT = 0.10
STEAL_SHARE_LIMIT = 0.05  # the hypervisor ran someone else on our virtual CPU
FREQ_DROP_LIMIT = 0.10  # the clock fell by more than this across the window
# The canary ran this much slower than the target's baseline (the fastest canary of its kind seen in the target's
# block).
# Quiet repeats of the canary stay within a few percent; a process sharing the core doubles it.
CANARY_DRIFT_LIMIT = 0.20


class CanaryBaseline:
    """A target's canary baselines, one per canary kind: the fastest canary of that kind seen so far in the block
    (disturbance only slows it). Kinds never mix: a numpy canary says nothing about a runtime canary's speed."""

    def __init__(self) -> None:
        self.best: dict[str, float] = {}

    def observe(self, canary: dict[str, Any] | None) -> float | None:
        """Fold a window's canary timings into its kind's baseline; return the window's drift (the worse of two)."""
        canary = canary or {}
        values = [canary.get(k) for k in ("before_ms", "after_ms")]
        values = [v for v in values if isinstance(v, (int, float)) and v > 0]
        if not values:
            return None
        kind = canary_kind(canary)
        low = min(values)
        self.best[kind] = min(self.best.get(kind, low), low)
        return drift(max(values), self.best[kind])

    def baseline(self, kind: str) -> float | None:
        """The baseline of one canary kind (None before any canary of that kind was seen)."""
        return self.best.get(kind)


def canary_kind(canary: dict[str, Any] | None) -> str:
    """Which canary a window's figures came from (results stored before the runtime canary ran numpy's)."""
    return str((canary or {}).get("kind") or NUMPY_KIND)


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
