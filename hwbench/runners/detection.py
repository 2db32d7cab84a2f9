"""Time a trained detector's artifact in parts (graph, NMS, end to end) on dataset images, in a worker.

Measuring side: standard library, numpy and the target's runtime only (no torch), so a board could run it too.
The images are the test split the detector's mAP was scored on, normalised as in training.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

import numpy as np

from hwbench.measure.detection import time_detection
from hwbench.measure.per_input import as_input
from hwbench.postprocess.nms import NmsSettings


def detection_images(path: str, count: int, mean: list[float], std: list[float]) -> np.ndarray:
    """The first `count` images of a saved split as float32 N×C×H×W, normalised as the detector was trained."""
    from hwbench.accuracy.detection.data import DetectionSplit

    images = DetectionSplit.load(path).images[:count]
    m = np.asarray(mean, dtype=np.float32)[:, None, None]
    s = np.asarray(std, dtype=np.float32)[:, None, None]
    return ((images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0) - m) / s


def measure_detection_job(job: dict[str, Any]) -> dict[str, Any]:
    """Open the artifact with the target's runner and time it in parts; never raises (a failure is a record)."""
    start = time.perf_counter()
    try:
        from hwbench.runners import get_runner

        settings = NmsSettings.from_dict(job["nms"], "job")
        runner = get_runner(job["runner"])
        session = runner.open(job["artifact"], int(job["threads"]), runner.options(**job.get("runner_options", {})))
        try:
            images = detection_images(job["images"], int(job["count"]), job["mean"], job["std"])
            shape = tuple(session.inputs()[0].shape)
            inputs = [as_input(img, shape) for img in images]
            facts = time_detection(
                lambda x: session.outputs_call([x]),
                inputs,
                settings,
                max_seconds=float(job.get("max_seconds", 20.0)),
                seed=int(job.get("seed", 0)),
            )
        finally:
            session.close()
        return {"status": "ok", **facts, "seconds_total": time.perf_counter() - start}
    except Exception as exc:
        return {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}".strip()[:2000],
            "info": {"traceback": traceback.format_exc()[-4000:]},
        }
