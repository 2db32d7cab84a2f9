"""A detection timing record judged like a measurement: canary drift against the target's fastest canary, foreign
CPU; a record from an agent that sends neither figure is left unjudged; a disturbed record is retimed on request."""

from __future__ import annotations

import json

from hwbench.measure.disturbance import CanaryBaseline
from hwbench.pipeline.det_records import judge
from hwbench.pipeline.det_timing import _done

KIND = "onnxruntime:9cc8a5f3822a"


def timed(canary_ms: float, foreign: float = 0.0) -> dict:
    return {
        "status": "ok",
        "interference": {"available": True, "foreign_share": foreign},
        "canary": {"before_ms": canary_ms, "after_ms": canary_ms, "kind": KIND},
    }


def test_canary_drift_against_the_targets_fastest_canary_flags_a_record() -> None:
    baseline = CanaryBaseline()
    assert judge(baseline, timed(1.0)) == {"disturbed": 0, "disturbed_reason": None, "canary_drift": 0.0}
    slow = judge(baseline, timed(1.35))
    assert slow["disturbed"] == 1 and slow["disturbed_reason"] == "canary +35% from baseline"
    both = judge(baseline, timed(1.05, foreign=0.4))
    assert both["disturbed_reason"] == "foreign CPU 40% of the measured cores"  # 5% drift is within the limit


def test_an_old_agents_record_is_not_judged() -> None:
    assert judge(CanaryBaseline(), {"status": "ok", "e2e_median_ms": 3.0}) == {
        "disturbed": None,
        "disturbed_reason": None,
    }


def test_a_disturbed_timing_is_timed_again_only_when_errors_are_retried() -> None:
    row = {"status": "ok", "info_json": json.dumps({}), "disturbed": 1}
    assert _done(row, retry_errors=False) and not _done(row, retry_errors=True)
    assert _done({**row, "disturbed": 0}, retry_errors=True)
    assert _done({"status": "ok", "info_json": "{}"}, retry_errors=True)  # stored before schema 8
