"""Time a trained detector's artifact in parts (graph, NMS, end to end) on real images, then detect on every image.

Measuring side: standard library, numpy and the target's runtime only (no torch), so the on-device agent runs
this same function. The images come as a raw uint8 `.npy` file (hwbench.measure.det_images) and are normalised
here as in training. After the timing (the first `count` images), every image of the file goes once through the
graph and post-processing, and the detections come back packed, so the host can score the artifact's own mAP.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

import numpy as np

from hwbench.measure.det_images import normalise, read_images
from hwbench.measure.detection import time_detection
from hwbench.measure.interference import allowed_cores, delta, measurement_cores, pin, snapshot
from hwbench.measure.per_input import as_input
from hwbench.postprocess.nms import NmsSettings, postprocess
from hwbench.postprocess.packed import Detections, pack_detections
from hwbench.runners.canary import open_canary, window_record

# Seconds allowed beyond the timing budget: opening the runtime and warm-up, and per image scored afterwards.
BASE_TIMEOUT_S = 120.0
PER_IMAGE_TIMEOUT_S = 2.0


def detection_timeout(job: dict[str, Any], images: int) -> float:
    """A generous wall-clock limit for one detection job over a file of `images` images."""
    budget = float(job.get("max_seconds", 20.0))
    # A backbone timed after the parts (hwbench.runners.det_backbone) spends its own timing budget again.
    budgets = 3 if job.get("backbone") else 2
    return BASE_TIMEOUT_S + budgets * budget + PER_IMAGE_TIMEOUT_S * images


def detect_all(call_for: Any, inputs: Any, settings: NmsSettings) -> list[Detections]:
    """Each input once through the graph and post-processing: (boxes, scores, labels) per image.

    With placement `graph` the graph's own outputs (det_boxes, det_scores, det_labels) are the detections."""
    found: list[Detections] = []
    for x in inputs:
        outputs = call_for(x)()
        if settings.placement == "host":
            det = postprocess(outputs[0][0], outputs[1][0], settings)
            found.append((det.boxes, det.scores, det.labels))
        else:
            found.append((outputs[0].reshape(-1, 4), outputs[1].reshape(-1), outputs[2].reshape(-1)))
    return found


def measure_detection_job(job: dict[str, Any]) -> dict[str, Any]:
    """Open the artifact with the target's runner, time it in parts, detect on every image; never raises.

    As a measurement's timed window (hwbench.runners.local): the process pins itself to the measurement cores, and
    the target's canary runs before and after the timing, inside interference snapshots of those cores; the
    figures come back as `canary` and `interference` for the host to judge (hwbench.measure.disturbance)."""
    start = time.perf_counter()
    allowed = allowed_cores()
    try:
        from hwbench.runners import get_runner

        settings = NmsSettings.from_dict(job["nms"], "job")
        images = read_images(job["images"])  # checked before the runtime opens anything
        runner = get_runner(job["runner"])
        options = runner.options(**job.get("runner_options", {}))
        cores = measurement_cores(int(job["threads"]))
        pinned = pin(cores)
        # Opened (and warmed up) before the window; it runs while no session of the detector exists, whose
        # thread pool would take the canary's cores (hwbench.runners.local).
        canary = open_canary(job["runner"], int(job["threads"]), options)
        snap = snapshot(cores)
        before = canary.run()
        facts = _time_parts(runner, job, options, settings, images)
        after = canary.run()
        window = {
            "interference": {**delta(snap, snapshot(cores), cores), "pinned": pinned},
            "canary": window_record(canary, before, after),
        }
        scored: dict[str, Any] = {}
        if job.get("detect", True):  # outside the watched window: not timed
            scored = _detect(runner, job, options, settings, images)
        return {"status": "ok", **facts, **window, **scored, "seconds_total": time.perf_counter() - start}
    except Exception as exc:
        return {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}".strip()[:2000],
            "info": {"traceback": traceback.format_exc()[-4000:]},
        }
    finally:
        if allowed:  # back to the cores allowed before (the backbone and the next job pick their own)
            pin(allowed)


def _calls(session: Any, job: dict[str, Any], images: np.ndarray) -> tuple[Any, Any]:
    """(inputs(lo, hi), call_for(x)) of an open session: normalised images and prepared calls."""
    shape = tuple(session.inputs()[0].shape)

    def inputs(lo: int, hi: int) -> list[np.ndarray]:
        return [as_input(img, shape) for img in normalise(images[lo:hi], job["mean"], job["std"])]

    def call_for(x: np.ndarray) -> Any:
        return session.outputs_call([x])  # a prepared call: binding the input stays outside the timed span

    return inputs, call_for


def _time_parts(runner: Any, job: dict[str, Any], options: Any, settings: NmsSettings, images: Any) -> dict:
    """Time the parts in a session that lives only here: the canary after it must not share its threads."""
    session = runner.open(job["artifact"], int(job["threads"]), options)
    try:
        inputs, call_for = _calls(session, job, images)
        return time_detection(
            call_for,
            inputs(0, int(job["count"])),
            settings,
            max_seconds=float(job.get("max_seconds", 20.0)),
            seed=int(job.get("seed", 0)),
        )
    finally:
        session.close()


def _detect(runner: Any, job: dict[str, Any], options: Any, settings: NmsSettings, images: Any) -> dict[str, Any]:
    """Every image once through the graph and post-processing (a session of its own), packed for the host."""
    session = runner.open(job["artifact"], int(job["threads"]), options)
    try:
        inputs, call_for = _calls(session, job, images)
        t0 = time.perf_counter()
        # In chunks: a large split normalised at once would hold every image as float32.
        found = [d for lo in range(0, len(images), 64) for d in detect_all(call_for, inputs(lo, lo + 64), settings)]
        source = "graph outputs (NMS in the graph)" if settings.placement == "graph" else "graph + host NMS"
        return {
            "detections": pack_detections(found),
            "detections_source": source,
            "detect_seconds": time.perf_counter() - t0,
        }
    finally:
        session.close()
