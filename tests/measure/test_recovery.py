"""The wait before a re-measure: quiet only when the foreign share *and* the canary say so, bounded, and honest
about what it saw (driven by a fake clock, a scripted foreign share and a scripted canary)."""

from __future__ import annotations

import pytest

from hwbench.measure.disturbance import CANARY_DRIFT_LIMIT, FOREIGN_SHARE_LIMIT
from hwbench.measure.recovery import still_disturbed, wait_for_recovery

POLL = 0.3


class Machine:
    """A scripted machine: each poll takes POLL seconds of fake time and reads the next foreign share; each canary
    run reads the next canary time."""

    def __init__(self, shares: list[float | None], canaries: list[float] | None = None) -> None:
        self.now = 0.0
        self.shares, self.canaries = list(shares), list(canaries or [])
        self.canary_runs = 0

    def clock(self) -> float:
        return self.now

    def share(self, cores: tuple[int, ...], seconds: float) -> float | None:
        self.now += seconds
        return self.shares.pop(0) if len(self.shares) > 1 else self.shares[0]

    def canary(self) -> dict:
        self.canary_runs += 1
        self.now += 0.03
        return {"median_ms": self.canaries.pop(0) if len(self.canaries) > 1 else self.canaries[0]}


def wait(machine: Machine, timeout: float, baseline: float | None = 1.0, canary: bool = True) -> dict:
    return wait_for_recovery(
        (1,),
        timeout,
        machine.canary if canary else None,
        baseline,
        poll_s=POLL,
        share=machine.share,
        clock=machine.clock,
    )


def test_quiet_at_once_runs_one_canary() -> None:
    m = Machine([0.0], [1.02])
    found = wait(m, 10.0)
    assert found["quiet"] is True and found["checks"] == 1 and m.canary_runs == 1
    assert found["canary_drift"] == pytest.approx(0.02)


def test_waits_for_the_canary_after_the_cores_are_free() -> None:
    # The hog leaves after two polls, but the machine stays slow (a host-level slow-down no process on the core
    # explains) for two more canary runs; the wait ends only when the canary is back within its limit.
    m = Machine([0.5, 0.5, 0.0], [1.6, 1.5, 1.05])
    found = wait(m, 10.0)
    assert found["quiet"] is True and found["checks"] == 5
    assert m.canary_runs == 3  # never while the cores were busy
    assert found["foreign_share"] == 0.0 and found["canary_ms"] == 1.05


def test_a_canary_that_stays_slow_refuses_the_re_measure() -> None:
    m = Machine([0.0], [1.0 + 2 * CANARY_DRIFT_LIMIT])
    found = wait(m, 2.0)
    assert found["quiet"] is False and found["waited_s"] <= 2.0 + 0.03
    assert found["canary_drift"] == pytest.approx(2 * CANARY_DRIFT_LIMIT)
    assert "canary +40% from baseline" in still_disturbed(found) and "foreign" not in still_disturbed(found)


def test_cores_that_stay_busy_refuse_it_without_running_the_canary() -> None:
    m = Machine([2 * FOREIGN_SHARE_LIMIT], [1.0])
    found = wait(m, 2.0)
    assert found["quiet"] is False and m.canary_runs == 0 and found["canary_ms"] is None
    assert found["checks"] == int(2.0 / POLL)  # stopped before a poll would overrun the bound
    assert "foreign CPU 20% of the measured cores" in still_disturbed(found)


def test_without_a_baseline_only_the_foreign_share_counts() -> None:
    m = Machine([0.0], [5.0])
    assert wait(m, 2.0, baseline=None)["quiet"] is True and m.canary_runs == 0
    assert wait(Machine([0.0]), 2.0, canary=False)["quiet"] is True


def test_nothing_readable_is_not_called_quiet_or_busy() -> None:
    # Without /proc (macOS) and without a canary baseline the wait cannot judge: the caller measures as before.
    found = wait(Machine([None]), 2.0, baseline=None)
    assert found["quiet"] is None and found["checks"] == 1
    # ... but the canary alone still judges where /proc is missing.
    assert wait(Machine([None], [3.0]), 1.0)["quiet"] is False
