"""What else used the machine while a network was timed: foreign CPU, steal, frequency and throttling (stdlib only).

A snapshot before and after every timed window; the difference says how much CPU other processes took on the cores
the measurement ran on (busy jiffies from /proc/stat minus this process's own CPU time, which includes the
runtime's intra-op threads), how much the hypervisor stole, and whether the clock dropped. Where /proc is absent
(macOS, Windows) every figure is None and `available` is False: the record says so instead of failing.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROC_STAT = Path("/proc/stat")
_CPU_SYS = Path("/sys/devices/system/cpu")
# /proc/stat columns: user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user).
_BUSY = (0, 1, 2, 5, 6)
_IDLE = (3, 4)
_STEAL = 7


def _hz() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100


HZ = _hz()


@dataclass(frozen=True)
class Snapshot:
    """Counters at one instant: per-CPU jiffies, own CPU seconds, wall clock, frequencies, throttle counts."""

    wall: float
    own_cpu_s: float
    cpus: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # cpu -> (busy, idle, steal) jiffies
    freq_khz: dict[int, int] = field(default_factory=dict)
    throttle: dict[int, int] = field(default_factory=dict)


def parse_proc_stat(text: str) -> dict[int, tuple[int, int, int]]:
    """Per-CPU (busy, idle, steal) jiffies from the text of /proc/stat (the aggregate `cpu` line is skipped)."""
    cpus: dict[int, tuple[int, int, int]] = {}
    for line in text.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *fields = line.split()
        if not name[3:].isdigit():
            continue
        values = [int(v) for v in fields] + [0] * (10 - len(fields))
        busy = sum(values[i] for i in _BUSY) + values[_STEAL]
        cpus[int(name[3:])] = (busy, sum(values[i] for i in _IDLE), values[_STEAL])
    return cpus


def own_cpu_seconds() -> float:
    """CPU seconds (user + system) this process has used, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def snapshot(cores: tuple[int, ...] | None = None, stat_path: Path = PROC_STAT) -> Snapshot:
    """Read the counters now (frequency and throttling only for `cores`, when given)."""
    try:
        cpus = parse_proc_stat(stat_path.read_text())
    except OSError:
        cpus = {}
    freq: dict[int, int] = {}
    throttle: dict[int, int] = {}
    for cpu in cores or ():
        khz = _read_int(_CPU_SYS / f"cpu{cpu}" / "cpufreq" / "scaling_cur_freq")
        if khz is not None:
            freq[cpu] = khz
        count = _read_int(_CPU_SYS / f"cpu{cpu}" / "thermal_throttle" / "core_throttle_count")
        if count is not None:
            throttle[cpu] = count
    return Snapshot(time.monotonic(), own_cpu_seconds(), cpus, freq, throttle)


def measurement_cores(threads: int) -> tuple[int, ...]:
    """The cores a measurement with `threads` threads is pinned to: the highest-numbered allowed ones.

    The highest, because cpu0 usually takes more interrupts and housekeeping; all allowed cores when there are
    not more of them than threads.
    """
    allowed = allowed_cores()
    if allowed is None:  # no affinity API (macOS): no pinning, every core counts
        return tuple(range(os.cpu_count() or 1))
    return allowed[-max(1, threads) :]


def allowed_cores() -> tuple[int, ...] | None:
    """The cores this process may run on now (None without an affinity API)."""
    try:
        return tuple(sorted(os.sched_getaffinity(0)))
    except AttributeError:
        return None


def pin(cores: tuple[int, ...]) -> bool:
    """Pin the calling thread (and the threads it starts later, e.g. a runtime's pool) to `cores`."""
    try:
        os.sched_setaffinity(0, cores)
    except (AttributeError, OSError, ValueError):
        return False
    return True


def delta(before: Snapshot, after: Snapshot, cores: tuple[int, ...]) -> dict[str, Any]:
    """Interference during the window between two snapshots, on `cores` and machine-wide."""
    wall = max(after.wall - before.wall, 1e-9)
    own = max(after.own_cpu_s - before.own_cpu_s, 0.0)
    report: dict[str, Any] = {"wall_s": round(wall, 4), "own_cpu": round(own / wall, 4), "cores": list(cores)}
    common = sorted(set(before.cpus) & set(after.cpus))
    if not common:
        return {**report, "available": False, "foreign_cpu": None, "foreign_share": None, "steal_share": None}

    def diff(cpus: list[int]) -> tuple[float, float, float]:
        busy = sum(after.cpus[c][0] - before.cpus[c][0] for c in cpus) / HZ
        idle = sum(after.cpus[c][1] - before.cpus[c][1] for c in cpus) / HZ
        steal = sum(after.cpus[c][2] - before.cpus[c][2] for c in cpus) / HZ
        return busy, idle, steal

    mine = [c for c in cores if c in common] or common
    busy, idle, steal = diff(mine)
    all_busy, all_idle, _ = diff(common)
    # Jiffies tick at 1/HZ: one tick per core at each end of the window may be counted either way, so that much
    # foreign CPU is forgiven (it is noise, not a process).
    slack = 2.0 * len(mine) / HZ
    foreign = max(0.0, busy - steal - own - slack)
    report.update(
        available=True,
        foreign_cpu=round(foreign / wall, 4),  # CPU-seconds of other processes per wall-second, on `mine`
        foreign_share=round(foreign / (wall * len(mine)), 4),  # ... as a share of those cores' time
        foreign_cpu_all=round(max(0.0, all_busy - own - 2.0 * len(common) / HZ) / wall, 4),
        steal_share=round(steal / max(busy + idle, 1e-9), 4),
        machine_busy=round(all_busy / max(all_busy + all_idle, 1e-9), 4),
    )
    freq_drop = _freq_drop(before.freq_khz, after.freq_khz)
    if freq_drop is not None:
        report["freq_mhz"] = round(sum(after.freq_khz.values()) / len(after.freq_khz) / 1000, 1)
        report["freq_drop"] = freq_drop
    throttled = sum(after.throttle.get(c, 0) - n for c, n in before.throttle.items())
    if before.throttle:
        report["throttle_events"] = throttled
    return report


def _freq_drop(before: dict[int, int], after: dict[int, int]) -> float | None:
    """Relative drop of the mean frequency from before to after (0 when it rose), None when unreadable."""
    common = set(before) & set(after)
    if not common:
        return None
    b = sum(before[c] for c in common) / len(common)
    a = sum(after[c] for c in common) / len(common)
    return round(max(0.0, (b - a) / b), 4) if b > 0 else None


def quiet_share(cores: tuple[int, ...], seconds: float = 0.3) -> float | None:
    """Foreign share of `cores` over a short idle window (this process sleeps), None where unreadable."""
    before = snapshot(cores)
    time.sleep(seconds)
    return delta(before, snapshot(cores), cores)["foreign_share"]
