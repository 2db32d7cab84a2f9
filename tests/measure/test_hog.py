"""A CPU hog pinned to the measured core is seen by both detectors: foreign CPU share and canary drift, for the
numpy canary and for the canary on every runner's own runtime."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwbench.measure.canary import NUMPY_KIND, run_canary
from hwbench.measure.disturbance import CANARY_DRIFT_LIMIT, FOREIGN_SHARE_LIMIT, CanaryBaseline, reasons
from hwbench.measure.interference import delta, measurement_cores, pin, snapshot
from hwbench.runners import get_runner, runner_names
from hwbench.runners.canary import close_all, open_canary

pytestmark = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs /proc/stat (Linux)")

HOG = "import os, time\nos.sched_setaffinity(0, {%d})\nend = time.time() + 20\nwhile time.time() < end: pass\n"


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@pytest.mark.parametrize("name", [NUMPY_KIND, *runner_names()])
def test_hog_on_the_measured_core_is_detected(name: str) -> None:
    cores = measurement_cores(1)
    saved = os.sched_getaffinity(0)
    pin(cores)  # before the runtime starts: its threads inherit the pinning, as in measure_artifact
    proc = None
    try:
        if name == NUMPY_KIND:
            kind, run = NUMPY_KIND, run_canary
        else:
            canary = open_canary(name, 1, get_runner(name).options())
            assert canary.fallback is None, canary.fallback  # every runner here has its runtime canary
            kind, run = canary.kind, canary.run
        baseline = CanaryBaseline()
        for _ in range(3):
            quiet = run()["median_ms"]
            baseline.observe({"before_ms": quiet, "after_ms": quiet, "kind": kind})
        proc = subprocess.Popen([sys.executable, "-c", HOG % cores[0]])  # ends by itself after 20 s at most
        time.sleep(0.3)  # the interpreter starts and pins itself
        before = snapshot(cores)
        hogged = run()["median_ms"]
        busy(0.5)  # the "network": competes with the hog for the core
        found = delta(before, snapshot(cores), cores)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        os.sched_setaffinity(0, saved)
        close_all()
    drift = baseline.observe({"before_ms": hogged, "after_ms": hogged, "kind": kind})
    assert found["foreign_share"] > max(0.25, FOREIGN_SHARE_LIMIT)  # the hog gets about half of the core
    assert drift is not None and drift > CANARY_DRIFT_LIMIT, (kind, quiet, hogged)
    why = reasons({"interference": found}, drift)
    assert any("foreign CPU" in w for w in why) and any("canary" in w for w in why)
