"""Interference arithmetic on synthetic /proc/stat snapshots; disturbance rules; graceful without /proc."""

from pathlib import Path

import pytest

from hwbench.measure import interference as itf
from hwbench.measure.disturbance import CanaryBaseline, reasons
from hwbench.measure.interference import Snapshot, delta, parse_proc_stat

STAT = """cpu  300 0 100 1000 10 0 0 0 0 0
cpu0 100 0 50 500 5 0 0 0 0 0
cpu1 200 0 50 500 5 0 0 0 0 0
intr 1 2 3
"""


def test_parse_proc_stat() -> None:
    cpus = parse_proc_stat(STAT)
    assert cpus == {0: (150, 505, 0), 1: (250, 505, 0)}  # the aggregate line is skipped


def snap(wall: float, own: float, cpu1_busy: int, cpu1_idle: int, steal: int = 0, cpu0_busy: int = 0) -> Snapshot:
    return Snapshot(wall, own, {0: (cpu0_busy, 0, 0), 1: (cpu1_busy, cpu1_idle, steal)})


def test_foreign_cpu_on_the_measured_core() -> None:
    hz = itf.HZ
    # 2 s window; core 1 busy for 2 s (all of it); this process used 1 s: another process took the other ~1 s.
    before, after = snap(0.0, 0.0, 0, 0), snap(2.0, 1.0, 2 * hz, 0)
    found = delta(before, after, (1,))
    slack = 2 / hz  # two ticks of rounding forgiven
    assert found["available"] and found["foreign_share"] == pytest.approx((1.0 - slack) / 2, abs=1e-3)
    assert found["own_cpu"] == pytest.approx(0.5)


def test_a_quiet_core_has_no_foreign_cpu() -> None:
    hz = itf.HZ
    # The process was the only thing running: busy ticks match its own CPU time, up to a tick of rounding.
    found = delta(snap(0.0, 0.0, 0, 0), snap(1.0, 1.0, hz + 1, 0), (1,))
    assert found["foreign_share"] == 0.0


def test_steal_is_not_foreign_cpu_but_its_own_figure() -> None:
    hz = itf.HZ
    found = delta(snap(0.0, 0.0, 0, 0), snap(1.0, 0.8, hz, 0, steal=hz // 5), (1,))
    assert found["steal_share"] == pytest.approx(0.2, abs=0.01)
    assert found["foreign_share"] == 0.0
    assert "steal 20%" in reasons({"interference": found}, None)


def test_other_cores_count_machine_wide_only() -> None:
    hz = itf.HZ
    found = delta(snap(0.0, 0.0, 0, 0, cpu0_busy=0), snap(1.0, 1.0, hz, 0, cpu0_busy=hz), (1,))
    assert found["foreign_share"] == 0.0 and found["foreign_cpu_all"] == pytest.approx(1.0 - 4 / hz, abs=1e-3)


def test_unavailable_without_proc(tmp_path: Path) -> None:
    missing = tmp_path / "no-stat"
    before = itf.snapshot((0,), stat_path=missing)
    found = delta(before, itf.snapshot((0,), stat_path=missing), (0,))
    assert found["available"] is False and found["foreign_share"] is None
    assert reasons({"interference": found}, None) == []  # unreadable is not disturbed


def test_frequency_drop_and_throttling() -> None:
    before = Snapshot(0.0, 0.0, {0: (0, 0, 0)}, {0: 3_000_000}, {0: 5})
    after = Snapshot(1.0, 1.0, {0: (itf.HZ, 0, 0)}, {0: 2_400_000}, {0: 7})
    found = delta(before, after, (0,))
    assert found["freq_drop"] == pytest.approx(0.2) and found["throttle_events"] == 2
    why = reasons({"interference": found}, None)
    assert "clock fell 20%" in why and "2 thermal throttle events" in why


def test_canary_baseline_is_the_fastest_and_drift_the_slowest() -> None:
    base = CanaryBaseline()
    assert base.observe({"before_ms": 4.0, "after_ms": 4.1}) == pytest.approx(0.025)
    assert base.observe({"before_ms": 8.0, "after_ms": 4.0}) == pytest.approx(1.0)  # a hog during one canary
    assert "canary +100% from baseline" in reasons({}, 1.0)
    assert base.observe(None) is None
