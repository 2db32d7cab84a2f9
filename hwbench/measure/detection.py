"""Detection latency in parts, at batch 1 on real images: the graph, NMS, and end to end, with per-image box counts.

NMS cost follows the boxes that survive the score threshold, which depend on the image and the trained weights,
so every image is timed (round-robin, as `hwbench.measure.per_input`) and its counts are kept next to its times.
Standard library and numpy only: the on-device agent runs this with the same NMS module as local runners.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hwbench.measure.per_input import ROUNDS
from hwbench.postprocess import nms as host_nms
from hwbench.postprocess.nms import NmsSettings

GRAPH_NOTE = "NMS runs inside the graph (placement 'graph'): graph_ms and e2e_ms include it, nms_ms is not separable"
COUNTS = ("above_threshold", "after_top_k", "kept")


def _run(call: Callable[[], list[np.ndarray]], settings: NmsSettings, clock: Callable[[], int]) -> tuple[Any, ...]:
    """One image through graph and post-processing: (graph ns, nms ns, e2e ns, counts)."""
    t0 = clock()
    outputs = call()
    t1 = clock()  # inside the end-to-end span; one clock read costs tens of nanoseconds
    if settings.placement == "host":
        det = host_nms.postprocess(outputs[0][0], outputs[1][0], settings)
        t2 = clock()
        counts = (det.above_threshold, det.after_top_k, det.kept)
    else:  # the graph's outputs are the detections already
        t2 = t1
        counts = (None, None, len(outputs[1]))
    return t1 - t0, t2 - t1, t2 - t0, counts


def _spread(per_image: np.ndarray | None, name: str) -> dict[str, float | None]:
    """Median and p10/p90 over images of one part."""
    if per_image is None:
        return {f"{name}_median_ms": None, f"{name}_p10_ms": None, f"{name}_p90_ms": None}
    p10, median, p90 = (float(v) for v in np.percentile(per_image, [10, 50, 90]))
    return {f"{name}_median_ms": median, f"{name}_p10_ms": p10, f"{name}_p90_ms": p90}


def nms_slope(nms_ms: np.ndarray | None, above: list[int | None]) -> float | None:
    """Least-squares NMS ms per 1,000 boxes above the score threshold; None with fewer than 3 distinct counts."""
    if nms_ms is None or any(a is None for a in above) or len(set(above)) < 3:
        return None
    slope, _ = np.polyfit(np.asarray(above, dtype=float), np.asarray(nms_ms, dtype=float), 1)
    return float(slope) * 1000


def time_detection(
    call_for: Callable[[np.ndarray], Callable[[], list[np.ndarray]]],
    inputs: list[np.ndarray],
    settings: NmsSettings,
    rounds: int = ROUNDS,
    max_seconds: float = 20.0,
    seed: int = 0,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> dict[str, Any]:
    """Time graph, NMS and end to end on every input (one image each); medians per image, spread over images."""
    if not inputs:
        raise ValueError("detection latency needs at least one real image; none were given")
    n = len(inputs)
    begin = clock()
    # Warm-up (each image once) also gives the box counts: the outputs of one image do not change between runs.
    counts = [_run(call_for(x), settings, clock)[3] for x in inputs]
    rng = np.random.default_rng(seed)
    samples = np.full((3, rounds, n), np.nan)
    done = 0
    for r in range(rounds):
        for i in rng.permutation(n):
            # Prepared afresh outside the timed span: a runtime that binds inputs into one interpreter (TFLite)
            # would otherwise run every image on the last input bound.
            samples[:, r, i] = _run(call_for(inputs[i]), settings, clock)[:3]
        done = r + 1
        if clock() - begin >= max_seconds * 1e9:
            break
    graph, nms_ms, e2e = np.median(samples[:, :done], axis=1) / 1e6
    host = settings.placement == "host"
    per_count = {name: [c[k] for c in counts] for k, name in enumerate(COUNTS)}
    return {
        "count": n,
        "rounds": done,
        "placement": settings.placement,
        "nms": settings.key(),
        "nms_in_graph": not host,
        **({} if host else {"note": GRAPH_NOTE}),
        **_spread(graph, "graph"),
        **_spread(nms_ms if host else None, "nms"),
        **_spread(e2e, "e2e"),
        "graph_ms": _rounded(graph),
        "nms_ms": _rounded(nms_ms) if host else None,
        "e2e_ms": _rounded(e2e),
        **per_count,
        "nms_ms_per_1000_candidates": nms_slope(nms_ms if host else None, per_count["above_threshold"]),
        "seconds": (clock() - begin) / 1e9,
    }


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values]
