"""Before a re-measure: wait (bounded) until the foreign CPU share *and* a canary run say the machine is quiet.

The foreign share alone misses host-level slow-downs (a hypervisor neighbour, a lower clock) that leave no process
on the measured cores; the canary sees them, against the block's canary baseline sent with the job. The canary
runs only once the cores are quiet (it costs ~25 ms; no point while a process still shares the core). When the
wait ends without quiet, the caller does not measure: a re-measure on a machine still disturbed would only be
disturbed again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hwbench.measure.canary import drift
from hwbench.measure.disturbance import CANARY_DRIFT_LIMIT, FOREIGN_SHARE_LIMIT
from hwbench.measure.interference import quiet_share

POLL_S = 0.3
# The status of a re-measure that was not run because its wait ended with the machine still disturbed
# (pipeline.rounds counts it as an attempt that found the machine busy).
BUSY = "busy"


def wait_for_recovery(
    cores: tuple[int, ...],
    timeout_s: float,
    canary: Callable[[], dict[str, Any]] | None = None,
    baseline_ms: float | None = None,
    *,
    poll_s: float = POLL_S,
    share: Callable[[tuple[int, ...], float], float | None] = quiet_share,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll until quiet or `timeout_s`; say what was last seen. `quiet` is None when neither check is readable.

    `canary` runs the target's canary and `baseline_ms` is the block's baseline for that kind; without either,
    only the foreign share is checked. `share` and `clock` are injectable for tests.
    """
    start = clock()
    checks = 0
    while True:
        checks += 1
        found_share = share(cores, poll_s)
        share_quiet = found_share is None or found_share <= FOREIGN_SHARE_LIMIT
        canary_ms = canary_drift = None
        if share_quiet and canary is not None and baseline_ms:
            canary_ms = canary()["median_ms"]
            canary_drift = drift(canary_ms, baseline_ms)
        canary_quiet = canary_drift is None or canary_drift <= CANARY_DRIFT_LIMIT
        readable = found_share is not None or canary_drift is not None
        quiet = (share_quiet and canary_quiet) if readable else None
        if quiet is not False or clock() - start + poll_s > timeout_s:
            break
    return {
        "waited_s": round(clock() - start, 3),
        "checks": checks,
        "foreign_share": found_share,
        "canary_ms": canary_ms,
        "canary_drift": None if canary_drift is None else round(canary_drift, 4),
        "quiet": quiet,
    }


def still_disturbed(wait: dict[str, Any]) -> str:
    """Why a re-measure was not run after its wait (one line)."""
    parts = []
    share = wait.get("foreign_share")
    if share is not None and share > FOREIGN_SHARE_LIMIT:
        parts.append(f"foreign CPU {share:.0%} of the measured cores")
    found = wait.get("canary_drift")
    if found is not None and found > CANARY_DRIFT_LIMIT:
        parts.append(f"canary {found:+.0%} from baseline")
    return f"still disturbed after waiting {wait['waited_s']:.1f} s: " + ("; ".join(parts) or "not quiet")
