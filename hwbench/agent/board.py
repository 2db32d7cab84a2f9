"""What the agent tells a client about its board: identity, CPU, runtimes, delegates, temperatures."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.agent.wire import EXTENSIONS
from hwbench.measure.interference import PROC_STAT, measurement_cores
from hwbench.measure.provenance import conditions, machine_info, versions


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip().strip("\x00") or None
    except OSError:
        return None


@lru_cache(maxsize=1)
def device() -> dict[str, Any]:
    """Board model (device tree, as on a Raspberry Pi, Jetson or Coral) and a stable, hashed device id."""
    serial = _read("/proc/device-tree/serial-number") or _read("/etc/machine-id")
    return {
        "model": _read("/proc/device-tree/model") or _read("/sys/devices/virtual/dmi/id/product_name"),
        # Hashed: identifies the board in result keys without publishing its serial number.
        "device_id": hashlib.sha256(serial.encode()).hexdigest()[:16] if serial else None,
    }


def runtimes() -> dict[str, dict[str, Any]]:
    """Every registered runner whose artifacts the agent accepts, with its runtime's installed versions."""
    from hwbench.runners import get_runner, runner_names

    found = {}
    for name in runner_names():
        runner = get_runner(name)
        if runner.format not in EXTENSIONS.values():
            continue
        found_versions = versions(runner.distributions)
        found[name] = {
            "format": runner.format,
            "versions": found_versions,
            "available": any(v is not None for v in found_versions.values()),
        }
    return found


@lru_cache(maxsize=1)
def delegates() -> dict[str, str | None]:
    """Delegate libraries found on this board, looked up once (the lookup spawns ldconfig and a compiler)."""
    from hwbench.runners.delegates import available_delegates

    return available_delegates()


def board_facts() -> dict[str, Any]:
    """The handshake's description of this board."""
    from hwbench import __version__

    return {
        "machine": machine_info(),
        "device": device(),
        "numpy": np.__version__,
        "hwbench": __version__,
        "runtimes": runtimes(),
        "delegates": delegates(),
        "conditions": conditions(),
        # Whether this board can say what else ran during a measurement (docs/measurement.md: interference).
        "interference": {"proc_stat": PROC_STAT.is_file(), "measurement_cores_1t": list(measurement_cores(1))},
    }


def describe(address: str, facts: dict[str, Any]) -> str:
    """A few lines a person can read: reachability, identity, CPU, runtimes, cache, queue."""
    machine, device = facts.get("machine", {}), facts.get("device", {})
    temps = facts.get("conditions", {}).get("temperatures_c") or {}
    runtimes = [
        f"{name} ({', '.join(f'{d} {v}' for d, v in info['versions'].items() if v) or 'not installed'})"
        for name, info in facts.get("runtimes", {}).items()
    ]
    delegates = [f"{name}: {lib or 'absent'}" for name, lib in (facts.get("delegates") or {}).items()]
    cache, queue = facts.get("cache", {}), facts.get("queue", {})
    lines = [
        f"agent {address}: reachable, authenticated (protocol {facts.get('protocol')}, hwbench {facts.get('hwbench')})",
        f"board     {machine.get('hostname')}  {device.get('model') or ''}  device id {device.get('device_id')}",
        f"cpu       {machine.get('cpu_model')}, {machine.get('cpu_count')} cores, governor {machine.get('governor')}, "
        f"max {machine.get('max_freq_mhz')} MHz",
        f"python    {machine.get('python')}, numpy {facts.get('numpy')}, {machine.get('platform')}",
        f"runtimes  {'; '.join(runtimes) or 'none'}",
        f"delegates {'; '.join(delegates) or 'none'}",
        f"temps     {', '.join(f'{k} {v:.1f} °C' for k, v in temps.items()) or 'no thermal zones'}",
        f"cache     {cache.get('files')} files, {cache.get('bytes', 0) / 1e6:.1f} of "
        f"{cache.get('max_bytes', 0) / 1e6:.0f} MB",
        f"queue     {'busy' if queue.get('busy') else 'idle'}, {queue.get('waiting')} waiting, "
        f"{queue.get('served')} measured since start",
    ]
    return "\n".join(lines)
