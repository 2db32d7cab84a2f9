"""Worker pool: follow-up jobs run after the job they depend on, in the same (persistent) workers."""

import os

from hwbench.workers import run_jobs


def job(spec: dict) -> dict:
    return {"status": "ok", "value": spec["value"], "pid": os.getpid()}


def test_followups_run_after_their_base_in_the_same_workers() -> None:
    order = []

    def followups(tag: str, result: dict):
        if tag.startswith("base"):
            yield f"dep-of-{tag}", {"value": result["value"] * 10}

    results = {}
    for tag, result in run_jobs(
        job, [("base1", {"value": 1}), ("base2", {"value": 2})], workers=1, timeout=60, followups=followups
    ):
        order.append(tag)
        results[tag] = result
    assert order.index("dep-of-base1") > order.index("base1") and order.index("dep-of-base2") > order.index("base2")
    assert results["dep-of-base2"]["value"] == 20 and len(results) == 4
    assert len({r["pid"] for r in results.values()}) == 1  # one worker kept for every job
