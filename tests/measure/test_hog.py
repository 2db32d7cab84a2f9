"""A CPU hog pinned to the measured core is seen by both detectors: foreign CPU share and canary drift."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwbench.measure.canary import run_canary
from hwbench.measure.disturbance import CANARY_DRIFT_LIMIT, FOREIGN_SHARE_LIMIT, CanaryBaseline, reasons
from hwbench.measure.interference import delta, measurement_cores, pin, snapshot

pytestmark = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs /proc/stat (Linux)")

HOG = "import os, time\nos.sched_setaffinity(0, {%d})\nend = time.time() + 20\nwhile time.time() < end: pass\n"


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_hog_on_the_measured_core_is_detected() -> None:
    cores = measurement_cores(1)
    saved = os.sched_getaffinity(0)
    pin(cores)
    baseline = CanaryBaseline()
    proc = None
    try:
        for _ in range(3):
            baseline.observe({"quiet_ms": run_canary()["median_ms"]})
        proc = subprocess.Popen([sys.executable, "-c", HOG % cores[0]])  # ends by itself after 20 s at most
        time.sleep(0.3)  # the interpreter starts and pins itself
        before = snapshot(cores)
        canary = run_canary()
        busy(0.5)  # the "network": competes with the hog for the core
        found = delta(before, snapshot(cores), cores)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        os.sched_setaffinity(0, saved)
    drift = baseline.observe({"hogged_ms": canary["median_ms"]})
    assert found["foreign_share"] > max(0.25, FOREIGN_SHARE_LIMIT)  # the hog gets about half of the core
    assert drift is not None and drift > CANARY_DRIFT_LIMIT
    why = reasons({"interference": found}, drift)
    assert any("foreign CPU" in w for w in why) and any("canary" in w for w in why)
