"""Pooling rounds: coverage of the long-run median with and without a between-round shift; protocol split."""

import numpy as np
import pytest

from hwbench.measure.rounds import between_variance, pool, round_protocol
from hwbench.measure.stats import robust_median

TRIALS = 300


def one_round(rng: np.random.Generator, shift: float, n: int = 300) -> dict:
    """A round's summary from a real series: log-normal 3% noise around 1 ms times (1 + shift)."""
    x = (1 + shift) * np.exp(0.03 * rng.standard_normal(n))
    found = robust_median(x)
    return {
        "median_ms": found["median"],
        "ci_low_ms": found["ci_low"],
        "ci_high_ms": found["ci_high"],
        "batches": found["batches"],
    }


@pytest.mark.parametrize("between", [0.0, 0.005, 0.02])
def test_pooled_interval_covers_the_long_run_median(between: float) -> None:
    # Each round sees the machine in another state: its level moves by N(0, between) (0.5% / 2% of the latency).
    # A block of 30 networks estimates the machine's between-round variance; each network's interval uses it.
    rng = np.random.default_rng(int(between * 1000))
    hits = trials = 0
    for _ in range(TRIALS // 30):
        block = [[one_round(rng, rng.normal(0, between)) for _ in range(2)] for _ in range(30)]
        rel_var, df = between_variance(block)
        for rounds in block:
            found = pool(rounds, between_rel_var=rel_var, between_df=df)
            hits += found["ci_low_ms"] <= 1.0 <= found["ci_high_ms"]
            trials += 1
    assert hits / trials >= 0.90, f"coverage {hits / trials:.3f} with between-round sd {between}"


def test_without_a_block_estimate_the_network_alone_is_exact_but_wide() -> None:
    rng = np.random.default_rng(7)
    hits = sum(
        (f := pool([one_round(rng, rng.normal(0, 0.02)) for _ in range(2)]))["ci_low_ms"] <= 1.0 <= f["ci_high_ms"]
        for _ in range(TRIALS)
    )
    assert hits / TRIALS >= 0.92


def test_a_single_burst_interval_would_not_cover_a_shifted_machine() -> None:
    # The check has teeth: one round's own interval misses the long-run median when rounds shift by 2%.
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(TRIALS):
        r = one_round(rng, rng.normal(0, 0.02))
        hits += r["ci_low_ms"] <= 1.0 <= r["ci_high_ms"]
    assert hits / TRIALS < 0.6


def test_pooled_interval_contains_every_round_median() -> None:
    rounds = [
        {"median_ms": 1.0, "ci_low_ms": 0.99, "ci_high_ms": 1.01, "batches": 10},
        {"median_ms": 1.2, "ci_low_ms": 1.19, "ci_high_ms": 1.21, "batches": 10},
    ]
    found = pool(rounds, between_rel_var=0.0, between_df=30)
    assert found["median_ms"] == pytest.approx(1.1)
    assert found["ci_low_ms"] <= 1.0 and found["ci_high_ms"] >= 1.2 and found["between_share"] == 0.0


def test_round_protocol_splits_the_budget() -> None:
    p = {
        "warmup_runs": 10,
        "warmup_seconds": 0.2,
        "min_runs": 20,
        "min_seconds": 0.1,
        "max_runs": 5000,
        "max_seconds": 20.0,
        "rel_ci": 0.01,
    }
    r = round_protocol(p, 2)
    assert r["max_seconds"] == 10.0 and r["warmup_seconds"] == 0.1 and r["max_runs"] == 2500
    assert r["rel_ci"] == pytest.approx(0.01 * 2**0.5) and r["min_runs"] == 10 and r["min_seconds"] == 0.15
    assert round_protocol(p, 1) == p


def test_pooled_interval_stays_positive_with_two_distant_rounds() -> None:
    # Own rounds only (no block estimate): t with 1 degree of freedom is 12.7; the interval must still be a latency.
    rounds = [
        {"median_ms": 1.0, "ci_low_ms": 0.99, "ci_high_ms": 1.01, "batches": 10},
        {"median_ms": 1.3, "ci_low_ms": 1.29, "ci_high_ms": 1.31, "batches": 10},
    ]
    found = pool(rounds)
    assert 0.0 < found["ci_low_ms"] <= 1.0 and found["ci_high_ms"] >= 1.3
