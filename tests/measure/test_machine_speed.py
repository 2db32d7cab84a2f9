"""A block's canary figure and the rule that says two blocks ran at different machine speeds, checked by seeded
simulation with a known truth: sweep B's machine slower by s for every network and the canary alike, plus noise."""

from __future__ import annotations

import numpy as np
import pytest

from hwbench.analysis.canary import normalised_summary
from hwbench.measure.machine_speed import (
    DEFAULT_REL_SD,
    SHIFT_FLOOR,
    block_canary,
    median_rel_se,
    shift_tolerance,
    speed_differs,
)

KIND = "onnxruntime:9cc8a5f3822a"
NETWORKS, ROUNDS = 40, 2  # a block of the benchmark's size: 160 canary timings (before and after each round)
CANARY_SD = 0.03  # per-timing spread of quiet canaries on this machine's 1-thread targets: 2-3.5%
NETWORK_SD = 0.015  # per-network noise between two sweeps once the machine's shift is divided out


def test_block_canary_summarises_the_main_kind_without_disturbed_windows() -> None:
    windows = [({"before_ms": 1.0 + i / 100, "after_ms": 1.0 + i / 100, "kind": KIND}, False) for i in range(5)]
    windows.append(({"before_ms": 3.0, "after_ms": 3.0, "kind": KIND}, True))  # a disturbed window: left out
    windows.append(({"before_ms": 9.0, "after_ms": 9.0, "kind": "numpy"}, False))  # a fallback: another kind
    windows.append(({"kind": KIND}, False))  # a busy answer has no timing
    found = block_canary(windows)
    assert found is not None
    assert (found["kind"], found["median_ms"], found["n"]) == (KIND, pytest.approx(1.02), 10)
    assert found["rel_sd"] == pytest.approx(1.4826 * 0.01 / 1.02, rel=1e-4)
    every = block_canary([({"before_ms": 2.0, "after_ms": 2.2, "kind": KIND}, True)])  # only disturbed ones
    assert every is not None and every["median_ms"] == pytest.approx(2.1) and every["rel_sd"] is None
    assert block_canary([(None, False), ({"kind": KIND}, False)]) is None


def test_tolerance_follows_the_canary_noise_with_a_floor() -> None:
    assert median_rel_se(100, 0.02) == pytest.approx(1.2533 * 0.002)
    assert median_rel_se(2, 0.001) == pytest.approx(1.2533 * DEFAULT_REL_SD / np.sqrt(2))  # too few to estimate
    assert median_rel_se(None, None) == pytest.approx(1.2533 * DEFAULT_REL_SD)
    assert shift_tolerance(10_000, 0.01, 10_000, 0.01) == SHIFT_FLOOR
    noisy = shift_tolerance(16, 0.03, 16, 0.03)
    assert noisy == pytest.approx(3 * np.sqrt(2) * 1.2533 * 0.03 / 4)
    assert speed_differs(1.05, noisy) and not speed_differs(1.03, noisy) and not speed_differs(1 / 1.03, noisy)


def simulate(seed: int, slowdown: float) -> tuple[bool, dict[str, float], float]:
    """Two sweeps of one target: (warning fired, canary-normalised summary, raw median |Δ|)."""
    rng = np.random.default_rng(seed)
    truth = np.exp(rng.uniform(np.log(0.5), np.log(20.0), NETWORKS))
    blocks = []
    for speed in (1.0, 1.0 + slowdown):
        latency = truth * speed * np.exp(NETWORK_SD / np.sqrt(2) * rng.standard_normal(NETWORKS))
        canary = 0.62 * speed * np.exp(CANARY_SD * rng.standard_normal((NETWORKS * ROUNDS, 2)))
        windows = [({"before_ms": b, "after_ms": a, "kind": KIND}, False) for b, a in canary]
        blocks.append((latency, block_canary(windows)))
    (lat_a, can_a), (lat_b, can_b) = blocks
    assert can_a is not None and can_b is not None
    tolerance = shift_tolerance(can_a["n"], can_a["rel_sd"], can_b["n"], can_b["rel_sd"])
    fired = speed_differs(can_b["median_ms"] / can_a["median_ms"], tolerance)
    norm = normalised_summary(
        lat_a, np.full(NETWORKS, can_a["median_ms"]), lat_b, np.full(NETWORKS, can_b["median_ms"])
    )
    return fired, norm, float(np.median(np.abs(lat_b / lat_a - 1)))


def test_warning_fires_for_a_5_percent_shift_and_rarely_without_one() -> None:
    seeds = range(200)
    shifted = [simulate(seed, 0.05) for seed in seeds]
    same = [simulate(10_000 + seed, 0.0) for seed in seeds]
    assert np.mean([s[0] for s in shifted]) >= 0.95
    assert np.mean([s[0] for s in same]) <= 0.05


def test_normalised_delta_recovers_the_noise_only_level() -> None:
    noise_only = np.median([simulate(20_000 + seed, 0.0)[2] for seed in range(50)])
    shifted = [simulate(30_000 + seed, 0.05) for seed in range(50)]
    raw = np.median([s[2] for s in shifted])
    normalised = np.median([s[1]["median_abs_delta"] for s in shifted])
    assert raw == pytest.approx(0.05, abs=0.005)  # the raw figure is mostly the machine's shift
    assert normalised == pytest.approx(noise_only, rel=0.25)  # dividing by the canary leaves the noise
    assert np.median([s[1]["median_ratio"] for s in shifted]) == pytest.approx(1.0, abs=0.005)
