"""The round driver's recovery: a re-measure carries the block's canary baseline of the round's canary kind, a
re-measure answered `busy` (the machine stayed disturbed through the wait) keeps the disturbed attempt and is
counted, and canary kinds keep separate baselines. No runtime: scripted results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwbench.measure.recovery import BUSY
from hwbench.pipeline import rounds
from hwbench.pipeline.measurements import round_recorder
from hwbench.pipeline.rounds import BUSY_STREAK, MAX_RETRIES, RoundDriver
from hwbench.store import Store
from tests.pipeline.test_rounds_driver import Ctx, result, run, todo

KIND = "onnxruntime:9cc8a5f3822a"
RETRY_BUDGET_S = rounds.RETRY_BUDGET_S  # as shipped, before tests/conftest.py turns re-measuring off


@pytest.fixture(autouse=True)
def _re_measure(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about re-measuring: give the block its real budget back."""
    monkeypatch.setattr(rounds, "RETRY_BUDGET_S", RETRY_BUDGET_S)


def with_kind(res: dict, kind: str) -> dict:
    res["info"]["canary"]["kind"] = kind
    return res


def busy(waited: float = 3.0) -> dict:
    """What measure_artifact answers when the wait for quiet ended with the canary still slow."""
    wait = {"waited_s": waited, "checks": 9, "foreign_share": 0.0, "canary_ms": 1.4, "canary_drift": 0.4}
    return {
        "status": BUSY,
        "error": "still disturbed after waiting 3.0 s: canary +40% from baseline",
        "device_seconds": 0.0,
        "info": {"quiet_wait": {**wait, "quiet": False}, "canary": {"kind": KIND}},
        "started_at": "2026-01-01T00:00:02.000+00:00",
        "finished_at": "2026-01-01T00:00:05.000+00:00",
    }


def test_a_busy_re_measure_keeps_the_disturbed_round_and_counts_as_an_attempt(tmp_path: Path) -> None:
    store, rng = Store(tmp_path / "s.sqlite"), np.random.default_rng(5)
    ctx = Ctx(store)
    seen_jobs: list[tuple] = []

    def outcome(tag: tuple, job: dict) -> dict:
        seen_jobs.append((tag, job))
        i, r, attempt = tag
        if attempt != 0 and (i, r) == (0, 1):
            return busy()  # the slow-down outlasts every wait: never measured again
        if i == 0 and r == 1:
            return with_kind(result(1.3, rng, canary=1.0), KIND)  # host-level: no foreign CPU, canary +43%
        return with_kind(result(1.0, rng, canary=0.7), KIND)

    driver = RoundDriver(ctx, todo(3), seed=6, quiet_wait_s=3.0)
    record = round_recorder(driver)
    ran, queue, advanced = [], driver.jobs(), 0
    while queue:
        tag, job = queue.pop(0)
        ran.append(tag)
        res = outcome(tag, job)
        advanced += record(tag, res)
        queue[:0] = driver.followups(tag, res)
    driver.finish()
    assert advanced == 3 * driver.rounds  # a busy answer ends its round on the bar like a measured one
    retried = [job for tag, job in seen_jobs if tag[2] != 0]
    assert retried and all(j["protocol"]["quiet_wait_seconds"] == 3.0 for j in retried)
    # The wait compares the canary with the block's baseline for the round's kind: the fastest seen so far.
    assert all(j["protocol"]["quiet_canary_ms"] == 0.7 for j in retried)
    final = ctx.finals[0]
    assert final["disturbed"] == 1 and final["disturbed_reason"].startswith("round 2: canary +43%")
    second = final["info"]["rounds"][1]
    assert abs(second["median_ms"] - 1.3) < 0.03  # the only measured attempt is kept
    history = second["history"]
    assert history[0]["measured"] and not any(h["measured"] for h in history[1:])
    assert all("still disturbed after waiting" in h["reasons"][0] for h in history[1:])
    assert all(h["quiet_waited_s"] == 3.0 and h["quiet_canary_drift"] == 0.4 for h in history[1:])
    assert second["attempts"] == len(history) and 2 <= len(history) <= 2 + MAX_RETRIES
    assert sum(tag[2] != 0 for tag in ran) <= 2 * BUSY_STREAK  # busy answers count towards the busy streak
    assert ctx.finals[1]["disturbed"] == 0 and ctx.finals[2]["disturbed"] == 0


def test_canary_kinds_keep_separate_baselines(tmp_path: Path) -> None:
    # A network whose canary fell back to numpy (4 ms) beside runtime canaries (0.7 ms): neither makes the other
    # look slow, and nothing is re-measured.
    store, rng = Store(tmp_path / "s.sqlite"), np.random.default_rng(7)
    ctx = Ctx(store)

    def outcome(tag: tuple, job: dict) -> dict:
        if tag[0] == 1:
            return result(1.0, rng, canary=4.0)  # no kind recorded: a numpy canary (as stored before)
        return with_kind(result(1.0, rng, canary=0.7), KIND)

    ran = run(RoundDriver(ctx, todo(3), seed=8), outcome)
    assert all(t[2] == 0 for t, _ in ran)
    assert all(f["disturbed"] == 0 for f in ctx.finals.values())
    assert [r["canary_drift"] for r in ctx.finals[1]["info"]["rounds"]] == [0.0, 0.0]


def test_a_slow_canary_of_the_same_kind_is_still_caught(tmp_path: Path) -> None:
    store, rng = Store(tmp_path / "s.sqlite"), np.random.default_rng(9)
    ctx = Ctx(store)

    def outcome(tag: tuple, job: dict) -> dict:
        slow = tag == (2, 1, 0)
        return with_kind(result(1.0, rng, canary=1.0 if slow else 0.7), KIND)

    ran = run(RoundDriver(ctx, todo(3), seed=10, quiet_wait_s=1.0), outcome)
    retried = [(t, job) for t, job in ran if t[2] != 0]
    assert [t for t, _ in retried] == [(2, 1, 1)]  # re-measured once, clean the second time
    assert retried[0][1]["protocol"]["quiet_canary_ms"] == 0.7
    assert all(f["disturbed"] == 0 for f in ctx.finals.values())
