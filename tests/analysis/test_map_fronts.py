"""The iso-accuracy verdict on detectors scored by mAP, each mAP measured with noise and stored with its interval.

Every trial draws two blocks from tests/analysis/populations.py on a mAP-like range (25–45%), adds to each
network's true mAP the error of scoring it on a finite evaluation set (normal, sd 1.5 points: a 6-point-wide 95%
interval, as digits-det's 200 test images give) and stores that interval, then runs hwbench's own target_fronts
and pair_tables. The truth of the pair is known: the latency factor between the blocks at every quality. Seeded;
with 150 trials a true 95% coverage reads 91–99%.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from hwbench.analysis.data import MAP
from hwbench.analysis.iso import pair_tables
from hwbench.analysis.stepfront import target_fronts
from tests.analysis.populations import draw

B = 200  # bootstrap replicates per trial
SD = 0.015  # error of one mAP over its evaluation images
Z = 1.959964


def frame(rng: np.random.Generator, factor: float, intervals: bool) -> pd.DataFrame:
    """Blocks x and y (y's latency × factor at every true mAP), 30 detectors each, with measured mAPs."""
    parts = []
    for block, f in (("x", 1.0), ("y", factor)):
        true_map, latency = draw(rng, 30, f, low=0.25, high=0.45)
        measured = true_map + rng.normal(0, SD, true_map.size)
        part = pd.DataFrame({"target": "t", "group": block, "map": measured, "median_ms": latency})
        if intervals:
            part = part.assign(map_ci_low=measured - Z * SD, map_ci_high=measured + Z * SD)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


@cache
def trials(factor: float, intervals: bool, count: int = 150) -> pd.DataFrame:
    """Per trial: the pair row of x against y."""
    rows = []
    for i in range(count):
        data = frame(np.random.default_rng(4000 + i), factor, intervals)
        noise = np.repeat(data["median_ms"].to_numpy()[:, None], 4, axis=1)  # latency itself exact here
        rows.append(pair_tables(target_fronts(data, MAP, noise, n_boot=B, seed=i)["t"])[1].iloc[0])
    return pd.DataFrame(rows)


def coverage(rows: pd.DataFrame, truth: float) -> float:
    return float(np.mean((rows["geo_ci_low"] <= truth) & (truth <= rows["geo_ci_high"])))


def test_identical_blocks_scored_by_map_cover_1_once_each_map_is_redrawn_from_its_interval() -> None:
    redrawn, exact = trials(1.0, True), trials(1.0, False)
    assert coverage(redrawn, 1.0) >= 0.91  # measured 0.947
    assert coverage(redrawn, 1.0) > coverage(exact, 1.0)  # kept exact, the mAP noise is missed: 0.893
    assert abs(np.log(redrawn["geomean_speedup"]).mean()) < 0.03
    assert np.mean(redrawn["p_value"] < 0.05) <= 0.08  # false "faster": measured 0.047 (exact: 0.10)
    widths = [np.log(r["geo_ci_high"] / r["geo_ci_low"]).mean() for r in (redrawn, exact)]
    assert widths[0] > 1.05 * widths[1]  # measured 1.12×: the mAP's own uncertainty is in the interval


def test_a_detector_block_5_percent_slower_is_covered() -> None:
    rows = trials(1.05, True)
    assert coverage(rows, 1.05) >= 0.91  # measured 0.947
    assert abs(np.log(rows["geomean_speedup"]).mean() - np.log(1.05)) < 0.03  # measured 0.0498 against 0.0488
