"""The round driver without a runtime: order of rounds, re-measures of disturbed rounds, pooling, resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hwbench.pipeline.jobs import MeasureJob, MeasureKeys
from hwbench.pipeline.rounds import MAX_RETRIES, RoundDriver
from hwbench.store import Store
from hwbench.store.rounds import get_rounds

PROTOCOL = {
    "warmup_runs": 2,
    "warmup_seconds": 0.0,
    "min_runs": 20,
    "min_seconds": 0.0,
    "max_runs": 400,
    "max_seconds": 2.0,
    "rel_ci": 0.01,
    "confidence": 0.95,
}


class Ctx:
    """Collects final records instead of writing the measurements table."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.finals: dict[int, dict[str, Any]] = {}

    def store_final(self, i: int, keys: tuple, result: dict[str, Any], tag: Any) -> None:
        self.finals[i] = result


def todo(n: int) -> list[MeasureJob]:
    return [MeasureJob("x", f"/a/{i}", 1, {}, PROTOCOL, MeasureKeys(f"m{i}", "e", "h", "a")) for i in range(n)]


def result(median: float, rng: np.random.Generator, foreign: float = 0.0, canary: float = 4.0) -> dict[str, Any]:
    ms = median * np.exp(0.02 * rng.standard_normal(200))
    from hwbench.measure.stats import summarize

    stats = summarize(ms * 1e6)
    return {
        "status": "ok",
        **stats,
        "converged": True,
        "stop_reason": "ci",
        "warmup_runs": 2,
        "device_seconds": 0.2,
        "samples": ms.astype("<f4").tobytes(),
        "started_at": "2026-01-01T00:00:00.000+00:00",
        "finished_at": "2026-01-01T00:00:01.000+00:00",
        "info": {
            "interference": {"available": True, "foreign_share": foreign},
            "canary": {"before_ms": canary, "after_ms": canary},
        },
    }


def run(driver: RoundDriver, outcome) -> list[tuple]:
    """Drive jobs like run_jobs does (followups run next); return the tags in the order they ran."""
    ran, queue = [], driver.jobs()
    while queue:
        tag, job = queue.pop(0)
        ran.append((tag, job))
        res = outcome(tag, job)
        driver.handle(tag, res)
        queue[:0] = driver.followups(tag, res)
    driver.finish()
    return ran


def test_rounds_are_interleaved_and_pooled(tmp_path: Path) -> None:
    store, rng = Store(tmp_path / "s.sqlite"), np.random.default_rng(0)
    ctx = Ctx(store)
    ran = run(RoundDriver(ctx, todo(6), seed=1), lambda tag, job: result(1.0 + tag[0], rng))
    tags = [t for t, _ in ran]
    assert [r for _, r, _ in tags] == [0] * 6 + [1] * 6  # round 2 only after round 1 of every network
    assert [i for i, _, _ in tags[:6]] != [i for i, _, _ in tags[6:]]  # in a new order
    assert ran[0][1]["protocol"]["max_seconds"] == 1.0  # the budget split over the rounds
    assert sorted(ctx.finals) == list(range(6))
    for i, final in ctx.finals.items():
        assert final["rounds"] == 2 and final["disturbed"] == 0 and final["n_runs"] == 400
        assert abs(final["median_ms"] / (1.0 + i) - 1) < 0.01  # 2% noise, 400 runs
        assert final["ci_low_ms"] <= final["median_ms"] <= final["ci_high_ms"]
        assert [r["median_ms"] for r in final["info"]["rounds"]] and final["info"]["pooling"]["between_df"] == 6
    assert store.query("SELECT COUNT(*) FROM measurement_rounds")[0][0] == 0  # rounds dropped once final


def test_disturbed_round_is_re_measured_after_a_wait_then_flagged(tmp_path: Path) -> None:
    store, rng = Store(tmp_path / "s.sqlite"), np.random.default_rng(1)
    ctx = Ctx(store)

    def outcome(tag: tuple, job: dict) -> dict:
        i, r, attempt = tag
        if i == 0 and r == 0 and attempt == 0:
            return result(2.0, rng, foreign=0.5, canary=8.0)  # a hog: recovers on the re-measure
        if i == 1 and (r, attempt) != (0, -1):
            # A hog that outlasts network 1's re-measures; gone for the recovery pass of its first round only.
            return result(1.8, rng, foreign=0.5, canary=8.0)
        return result(1.0, rng)

    ran = run(RoundDriver(ctx, todo(3), seed=2, quiet_wait_s=3.0), outcome)
    retried = [(t, j) for t, j in ran if t[2] > 0]
    assert all(j["protocol"]["quiet_wait_seconds"] == 3.0 for _, j in retried)
    assert ctx.finals[0]["disturbed"] == 0 and abs(ctx.finals[0]["median_ms"] - 1.0) < 0.02
    reason = ctx.finals[1]["disturbed_reason"]
    assert ctx.finals[1]["disturbed"] == 1 and "round 2: foreign CPU 50%" in reason and "round 1" not in reason
    assert ctx.finals[2]["disturbed"] == 0
    first, second = ctx.finals[1]["info"]["rounds"]
    assert first["disturbed"] == [] and abs(first["median_ms"] - 1.0) < 0.02  # recovered in the recovery pass
    assert first["attempts"] == 2 + MAX_RETRIES and first["history"][-1]["reasons"] == []
    assert second["disturbed"] and second["attempts"] <= 2 + MAX_RETRIES
    assert [t for t, _ in ran if t[2] == -1] == [(1, 0, -1), (1, 1, -1)]  # the recovery pass, after every round


def test_resume_reuses_finished_rounds(tmp_path: Path) -> None:
    store, rng = Store(tmp_path / "s.sqlite"), np.random.default_rng(3)
    first = RoundDriver(Ctx(store), todo(4), seed=4)
    jobs = first.jobs()
    for tag, _ in jobs[:3]:  # interrupted after three networks' first round
        first.handle(tag, result(1.0, rng))
    assert all(get_rounds(store, f"m{t[0]}") for t, _ in jobs[:3])
    ctx = Ctx(store)
    ran = run(RoundDriver(ctx, todo(4), seed=4), lambda tag, job: result(1.0, rng))
    assert [t for t, _ in ran if t[1] == 0] == [jobs[3][0]]  # only the missing first round runs again
    assert len(ran) == 1 + 4 and sorted(ctx.finals) == [0, 1, 2, 3]


def test_every_final_record_carries_its_blocks_canary(tmp_path: Path) -> None:
    store, rng = Store(tmp_path / "s.sqlite"), np.random.default_rng(5)
    ctx = Ctx(store)

    def outcome(tag: tuple, job: dict) -> dict:
        i, r, attempt = tag
        if (i, r, attempt) == (0, 0, 0):
            return result(1.0, rng, foreign=0.5, canary=9.0)  # disturbed, re-measured: only the kept attempt counts
        return result(1.0, rng, canary=4.0 + 0.1 * i)

    run(RoundDriver(ctx, todo(5), seed=6, quiet_wait_s=0.0), outcome)
    canaries = {(f["canary_kind"], f["canary_ms"], f["canary_n"]) for f in ctx.finals.values()}
    assert canaries == {("numpy", 4.2, 20)}  # one figure for the block: 5 networks x 2 rounds x (before, after)
    final = ctx.finals[3]
    assert final["canary_rel_sd"] == pytest.approx(1.4826 * 0.1 / 4.2, rel=1e-4)
    assert final["info"]["block_canary"] == {
        "kind": "numpy",
        "median_ms": 4.2,
        "n": 20,
        "rel_sd": final["canary_rel_sd"],
    }
