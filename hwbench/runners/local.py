"""Measure one artifact with one runner: the job a measurement worker (or the on-device agent) executes."""

from __future__ import annotations

import time
import traceback
from datetime import datetime, timezone
from typing import Any

import numpy as np

from hwbench.measure.interference import allowed_cores, delta, measurement_cores, pin, snapshot
from hwbench.measure.per_input import time_per_input
from hwbench.measure.provenance import conditions, machine_info, versions
from hwbench.measure.recovery import BUSY, still_disturbed, wait_for_recovery
from hwbench.measure.stats import summarize
from hwbench.measure.thermal import cool_down
from hwbench.measure.timing import Protocol, run_protocol
from hwbench.runners import get_runner, random_inputs
from hwbench.runners.canary import open_canary, window_record

# Raw samples kept per result (evenly thinned): enough to bootstrap measurement noise, small in the store.
MAX_STORED_SAMPLES = 512


def now() -> str:
    """UTC timestamp, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def thin(samples_ms: np.ndarray, limit: int = MAX_STORED_SAMPLES) -> bytes:
    """Evenly spaced subset of the samples (in run order) as little-endian float32 bytes."""
    if samples_ms.size > limit:
        samples_ms = samples_ms[np.linspace(0, samples_ms.size - 1, limit).round().astype(int)]
    return samples_ms.astype("<f4").tobytes()


def job_timeout(protocol: dict[str, Any]) -> float:
    """Generous wall-clock limit for one measurement job (loading + cooling + warm-up + capped timing)."""
    p = protocol
    cooling = p.get("cooldown_timeout_s", 300.0) if p.get("cooldown_below_c") is not None else 0.0
    waits = p.get("cooldown_seconds", 0.0) + p.get("quiet_wait_seconds", 0.0)
    return 120.0 + 2.0 * (p["warmup_seconds"] + p["max_seconds"] + waits) + cooling


def measure_artifact(job: dict[str, Any]) -> dict[str, Any]:
    """Open the artifact, bind seeded inputs, run the protocol and return a result record (never raises).

    The process pins itself to the measurement cores first (the runtime's threads inherit it), so the interference
    snapshots around the timed window know which cores to watch; the canary (the target's runtime running the
    reference network, hwbench.runners.canary) runs just before and after it. A re-measure first waits for quiet;
    when the machine stays disturbed it returns status `busy` without timing.
    """
    started = now()
    t0 = time.perf_counter()
    allowed = allowed_cores()
    try:
        cores = measurement_cores(int(job["threads"]))
        pinned = pin(cores)
        runner = get_runner(job["runner"])
        options = runner.options(**job.get("options", {}))
        protocol = Protocol(**job["protocol"])
        cooling = None
        if protocol.cooldown_below_c is not None:
            cooling = cool_down(protocol.cooldown_below_c, protocol.cooldown_timeout_s, protocol.cooldown_zone)
        # The canary runs while no session of the network exists: a live session's thread pool took the canary's
        # cores (onnxruntime, 2 threads on 2 cores: the canary ran 2x slower beside an idle live session, and every
        # result of the demo's 2-thread target was flagged disturbed), while the network's own timing is the same
        # with the canary's session open or not (measured).
        canary = open_canary(job["runner"], int(job["threads"]), options)
        quiet = None
        if protocol.quiet_wait_seconds > 0:  # a re-measure: first let the disturbance pass (bounded)
            quiet = wait_for_recovery(cores, protocol.quiet_wait_seconds, canary.run, protocol.quiet_canary_ms)
            if quiet["quiet"] is False:
                return _busy(quiet, canary.kind, started)
        before = conditions()
        # The window watched for interference spans both canaries: at least ~50 ms, so the 10 ms jiffies of
        # /proc/stat still resolve it when the timed runs themselves take a few milliseconds.
        snap = snapshot(cores)
        canary_before = canary.run()
        timing, per_image, info = _time_network(runner, job, options, protocol)
        canary_after = canary.run()
        interference = delta(snap, snapshot(cores), cores)
        after = conditions()
        stats = summarize(timing.samples_ns, protocol.confidence)
        ms = timing.samples_ns.astype(np.float64) / 1e6
        return {
            "status": "ok",
            **stats,
            "converged": timing.converged,
            "stop_reason": timing.stop_reason,
            "warmup_runs": timing.warmup_runs,
            "device_seconds": timing.device_seconds,
            "samples": thin(ms),
            "info": {
                **info,
                "conditions_before": before,
                "conditions_after": after,
                "interference": {**interference, "pinned": pinned},
                "canary": window_record(canary, canary_before, canary_after),
                **({"quiet_wait": quiet} if quiet else {}),
                **({"cooldown": cooling} if cooling else {}),
                **({"per_image": per_image} if per_image else {}),
            },
            "provenance": {"machine": machine_info(), "versions": versions(runner.distributions)},
            "started_at": started,
            "finished_at": now(),
        }
    except Exception as exc:  # a failing artifact is a result, not a crash of the sweep
        return {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}".strip()[:2000],
            "traceback": traceback.format_exc()[-4000:],
            "device_seconds": time.perf_counter() - t0,
            "started_at": started,
            "finished_at": now(),
        }
    finally:
        # Back to the cores allowed before: the next job in this process (another thread count) picks its own.
        if allowed:
            pin(allowed)


def _time_network(runner: Any, job: dict[str, Any], options: Any, protocol: Protocol) -> tuple[Any, Any, dict]:
    """Open the artifact, time it under the protocol (and image by image when asked), and let the session go.

    The session and its prepared call live only in this function: a runtime releases its threads when the last
    reference goes (`close` is only a hook), and the canary after the timing must not share the cores with them.
    """
    session = runner.open(job["path"], int(job["threads"]), options)
    try:
        fn = session.prepare(random_inputs(session.inputs(), job.get("seed", 0)))
        timing = run_protocol(fn, protocol)
        per_image = _per_image(session, job, protocol) if job.get("inputs_path") else None
        return timing, per_image, session.info()
    finally:
        session.close()


def _busy(quiet: dict[str, Any], kind: str, started: str) -> dict[str, Any]:
    """The result of a re-measure that was not run: the machine stayed disturbed through the wait."""
    return {
        "status": BUSY,
        "error": still_disturbed(quiet),
        "device_seconds": 0.0,
        "info": {"quiet_wait": quiet, "canary": {"kind": kind}},
        "started_at": started,
        "finished_at": now(),
    }


def _per_image(session: Any, job: dict[str, Any], protocol: Protocol) -> dict[str, Any]:
    """Latency per image of the job's inputs file (data-dependent artifacts); a failure here is noted, not fatal."""
    try:
        images = np.load(job["inputs_path"])
        facts = time_per_input(session.prepare, session.inputs()[0].shape, images, max_seconds=protocol.max_seconds)
    except Exception as exc:  # the usual statistics stand; the record says why the distribution is missing
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}
    return {**facts, "source": job.get("inputs_source")}


def machine_facts(job: dict[str, Any]) -> dict[str, Any]:
    """What identifies the machine this runs on for `job["runner"]` (a Ray node measuring a target)."""
    from hwbench.measure.provenance import machine_id

    return {
        "status": "ok",
        "machine_id": machine_id(),
        "machine": machine_info(),
        "versions": versions(get_runner(job["runner"]).distributions),
    }
