"""Best-of-m curves θ(a) and their bootstrap replicates, checked against brute force over every m-subset."""

from itertools import combinations

import numpy as np
import pytest

from hwbench.analysis.data import ACCURACY
from hwbench.analysis.stepfront import REACH, best_of_m, block_front, bootstrap_front, level_grid, target_fronts
from tests.analysis.frames import make_frame


def brute(q: np.ndarray, lat: np.ndarray, level: float, m: int) -> float:
    """Mean over every m-subset of the networks reaching the level of its lowest latency."""
    reach = lat[q >= level]
    return float(np.mean([min(c) for c in combinations(reach, m)])) if reach.size >= m else np.nan


def test_u_statistic_equals_brute_force_with_and_without_repeats() -> None:
    rng = np.random.default_rng(0)
    q, lat = rng.uniform(0.5, 0.9, 11), rng.uniform(1, 10, 11)
    levels = np.array([0.5, 0.6, 0.7, 0.8, 0.95])
    got = best_of_m(q[None], lat[None], np.ones((1, 11)), levels, 3)[0]
    want = [brute(q, lat, a, 3) for a in levels]
    assert np.allclose(got, want, equal_nan=True, rtol=1e-6)
    w = rng.integers(0, 3, 11)  # a bootstrap replicate: networks repeated or absent
    got = best_of_m(q[None], lat[None], w[None].astype(float), levels, 2)[0]
    want = [brute(np.repeat(q, w), np.repeat(lat, w), a, 2) for a in levels]
    assert np.allclose(got, want, equal_nan=True, rtol=1e-6)


def test_grid_is_absolute() -> None:
    assert np.allclose(level_grid(0.601, 0.62, False), [0.605, 0.61, 0.615, 0.62])
    assert np.allclose(level_grid(0.6, 0.6, False), [0.6])  # a level exactly on the grid is kept
    macs = level_grid(1e8, 2e8, True)
    assert np.allclose(np.log(macs) / 0.05, np.round(np.log(macs) / 0.05)) and macs.min() >= 1e8
    assert level_grid(0.7, 0.6, False).size == 0


def test_block_range_and_unconditional_floor() -> None:
    q = np.linspace(0.6, 0.79, 20)
    lat = np.exp(8 * (q - 0.6))
    levels = level_grid(0.55, 0.8, False)
    front = block_front("x", q, lat, levels)
    assert front.top == pytest.approx(q[-REACH * 3])  # reached by 9 networks
    beyond = levels > front.top + 1e-12
    assert not front.estimable[beyond].any()  # compared only up to the top
    # beyond it the curve still exists while 3 networks reach a level: kept blocks cover with it
    assert np.allclose(front.point[beyond], [brute(q, lat, a, 3) for a in levels[beyond]], equal_nan=True)
    assert np.isfinite(front.point[beyond]).sum() == np.sum(levels[beyond] <= q[-3] + 1e-12)
    below = levels < 0.6 - 1e-12  # every network reaches these: the unconditional best of 3
    assert np.allclose(front.point[below], brute(q, lat, 0.0, 3))
    assert front.occupied(levels).sum() == np.sum((levels >= 0.6 - 1e-12) & (levels <= front.top + 1e-12))
    assert np.all(np.diff(front.point[front.estimable]) >= 0)  # latency rising with accuracy: θ rises too
    small = block_front("s", q[:8], lat[:8], levels)
    assert not small.estimable.any()  # fewer than REACH·m networks: no curve


def test_bootstrap_without_noise_brackets_the_point_and_is_reproducible() -> None:
    rng = np.random.default_rng(1)
    q = rng.uniform(0.6, 0.8, 40)
    lat = np.exp(8 * (q - 0.6)) * rng.lognormal(0, 0.1, 40)
    levels = level_grid(0.6, 0.8, False)
    front = block_front("x", q, lat, levels)
    one = bootstrap_front(front, levels, 300, np.random.default_rng(0))
    two = bootstrap_front(front, levels, 300, np.random.default_rng(0))
    assert np.array_equal(one, two, equal_nan=True)
    est = front.estimable
    assert np.isnan(one[:, levels > q.max()]).all() and np.isfinite(one[:, est]).mean() > 0.97
    low, high = np.nanquantile(one[:, est], [0.025, 0.975], axis=0)
    assert np.all((low <= front.point[est]) & (front.point[est] <= high))


def test_target_fronts_streams_do_not_depend_on_other_blocks() -> None:
    rng = np.random.default_rng(2)
    pts = {("t", b): list(zip(rng.uniform(0.6, 0.8, 15), rng.uniform(1, 5, 15))) for b in ("a", "b")}
    frame = make_frame(pts).assign(group=lambda f: f["block"])
    noise = frame["median_ms"].to_numpy()[:, None] * np.array([0.99, 1.0, 1.01])
    both = target_fronts(frame, ACCURACY, noise, n_boot=50, seed=3)["t"]
    alone = frame["block"] == "a"
    solo = target_fronts(frame[alone].reset_index(drop=True), ACCURACY, noise[alone.to_numpy()], 50, 3)["t"]
    a, s = both.blocks["a"], solo.blocks["a"]
    shared = np.isin(both.levels.round(9), solo.levels.round(9))
    assert np.array_equal(a.boot[:, shared], s.boot, equal_nan=True)


def test_accuracy_redraws_widen_nothing_when_evaluation_sizes_are_unknown() -> None:
    frame = make_frame({("t", "a"): [(0.6 + 0.01 * i, 1.0 + i) for i in range(12)]}).assign(group="a")
    noise = np.repeat(frame["median_ms"].to_numpy()[:, None], 2, axis=1)
    plain = target_fronts(frame, ACCURACY, noise, n_boot=40, seed=0)["t"].blocks["a"]
    sized = target_fronts(frame.assign(eval_images=100), ACCURACY, noise, n_boot=40, seed=0)["t"].blocks["a"]
    assert plain.acc_n is None and sized.acc_n is not None
    assert not np.array_equal(plain.boot, sized.boot, equal_nan=True)  # accuracies redrawn per replicate
