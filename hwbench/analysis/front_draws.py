"""One chunk of bootstrap fronts when each replicate also redraws every network's accuracy.

With accuracy fixed, a front replicate needs only a presence mask and one running minimum in a fixed quality
order (hwbench.analysis.stepfront). With accuracy redrawn from its binomial posterior (hwbench.analysis.data),
the order differs per replicate: each row is sorted by its own accuracies, and the count of networks at or above
every level is found for all rows at once by offsetting row r's accuracies (all in [0, 1]) by 2r and searching
one flat sorted array.
"""

from __future__ import annotations

import numpy as np


def replicate_front(
    q_rep: np.ndarray, lat: np.ndarray, present: np.ndarray, levels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(b, n) redrawn accuracies, latencies (inf where absent) and presence → per replicate: L at each level,
    the quality of the fastest network present, the best quality present and that network's latency."""
    b, n = q_rep.shape
    order = np.argsort(-q_rep, axis=1, kind="stable")
    qs = np.take_along_axis(q_rep, order, 1)  # descending per row
    ls = np.take_along_axis(lat, order, 1)
    ps = np.take_along_axis(present, order, 1)
    running = np.minimum.accumulate(ls, axis=1)
    offset = 2.0 * np.arange(b)[:, None]
    flat = (qs[:, ::-1] + offset).ravel()  # ascending within each row, rows stacked in order
    below = np.searchsorted(flat, (np.asarray(levels, dtype=float)[None, :] + offset).ravel(), side="left")
    count = n - (below.reshape(b, -1) - n * np.arange(b)[:, None])  # networks with accuracy ≥ level
    rows = np.arange(b)[:, None]
    boot = np.where(count > 0, running[rows, np.maximum(count - 1, 0)], np.inf)
    first = np.argmax(ps, axis=1)  # the most accurate network present
    r = np.arange(b)
    return boot, qs[r, np.argmin(ls, axis=1)], qs[r, first], ls[r, first]
