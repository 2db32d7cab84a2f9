"""The canary: a small fixed reference workload timed beside every network; its drift says the machine changed.

Two kinds. The **model canary** is a fixed reference network (three 3x3 convolutions and a matrix product, about
49 million multiply-adds) run through the same runner session type, thread count and options as the measured
network (hwbench.runners.canary), so a change of the runtime's thread pool, delegate or clock shows in it. Its
files ship in the package (canary_models/: ONNX for onnxruntime and OpenVINO, TFLite for LiteRT), generated once
by `python -m hwbench.export.canary` and checked here by sha256; the torch runner builds the same network from
`canary_weights`. The **numpy canary** (this module's workload) stands in where a runtime has no canary model or
it cannot be opened; every result records which kind ran.

Both run in the measuring process on the pinned cores, so a CPU hog sharing those cores, a lower clock or a busy
memory system slows them as it slows the network. One repetition lasts at least a few milliseconds (a model
canary repeats its call until it does): longer than a scheduler time slice, so a process sharing the core shows
in every repetition. The figure is the median time of one call.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPEATS = 5  # timed repetitions per call; the median is the canary's figure
REPETITION_MS = 4.0  # a model canary's repetition repeats its call until it lasts about this long
MAX_CALLS = 256
_SIZE = 48
_PASSES = 32  # about 4 ms per repetition

NUMPY_KIND = "numpy"
MODELS_DIR = Path(__file__).with_name("canary_models")
# The committed canary files by artifact format, with their sha256: a changed file is a different canary, and
# results measured with it must not be judged against a baseline of the old one.
MODEL_FILES = {
    "onnx": ("canary.onnx", "9cc8a5f3822a8cf1ab7e9bf49028d8ec0d2fc544f54a06efa33a748cce2a6d64"),
    "tflite": ("canary.tflite", "0e8d6f7f9da5383125c3afa22a5ec7ae4adf3b65922f0a776f03dcf9c0a13bd8"),
}
# The reference network: input (1, 3, 48, 48) -> conv 3->32 -> conv 32->32 -> conv 32->32 (3x3, pad 1, ReLU each)
# -> reshape (1536, 48) -> matmul (48, 64). About 49 million multiply-adds: about 1 ms on a desktop core.
INPUT_SHAPE = (1, 3, 48, 48)
CHANNELS = 32
SPATIAL = 48
FEATURES = 64
OUTPUT_SHAPE = (CHANNELS * SPATIAL, FEATURES)  # rows of the last feature map, times the matrix
WEIGHT_SEED = 20261207


def canary_weights() -> dict[str, np.ndarray]:
    """The reference network's fixed weights (float32, He-scaled so activations stay of order one)."""
    rng = np.random.default_rng(WEIGHT_SEED)

    def conv(cin: int) -> np.ndarray:
        return (rng.standard_normal((CHANNELS, cin, 3, 3)) * math.sqrt(2.0 / (9 * cin))).astype(np.float32)

    weights = {"w1": conv(3), "w2": conv(CHANNELS), "w3": conv(CHANNELS)}
    for name in ("b1", "b2", "b3"):
        weights[name] = (0.01 * rng.standard_normal(CHANNELS)).astype(np.float32)
    weights["fc"] = (rng.standard_normal((SPATIAL, FEATURES)) / math.sqrt(SPATIAL)).astype(np.float32)
    return weights


def canary_input() -> np.ndarray:
    """The reference network's fixed input."""
    return np.random.default_rng(WEIGHT_SEED + 1).standard_normal(INPUT_SHAPE).astype(np.float32)


class CanaryFileError(RuntimeError):
    """A committed canary file is missing or not the one this version of hwbench shipped."""


_VERIFIED: dict[str, Path] = {}


def model_file(fmt: str) -> Path | None:
    """The committed canary file for an artifact format, checked by sha256 (None: no canary for that format)."""
    if fmt not in MODEL_FILES:
        return None
    if fmt in _VERIFIED:
        return _VERIFIED[fmt]
    name, expected = MODEL_FILES[fmt]
    path = MODELS_DIR / name
    try:
        found = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise CanaryFileError(f"canary file {path} cannot be read ({exc.strerror})") from None
    if found != expected:
        raise CanaryFileError(f"canary file {path} has sha256 {found[:12]}…, expected {expected[:12]}…")
    _VERIFIED[fmt] = path
    return path


def time_calls(fn: Callable[[], Any], repeats: int = REPEATS, repetition_ms: float = REPETITION_MS) -> dict[str, Any]:
    """Time `fn`: calls per repetition fixed from a warm-up so one repetition lasts `repetition_ms`; per-call ms."""
    fn()  # first call: lazy initialisation, caches
    singles = []
    for _ in range(3):  # the fastest of three: one preempted call must not shorten every repetition
        t0 = time.perf_counter_ns()
        fn()
        singles.append(time.perf_counter_ns() - t0)
    one_ms = max(min(singles) / 1e6, 1e-3)
    calls = min(max(1, math.ceil(repetition_ms / one_ms)), MAX_CALLS)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter_ns() - t0) / 1e6 / calls)
    times.sort()
    return {
        "median_ms": round(times[len(times) // 2], 5),
        "min_ms": round(times[0], 5),
        "repeats": repeats,
        "calls": calls,
    }


def _workload(a: np.ndarray, b: np.ndarray, big: np.ndarray) -> float:
    total = 0.0
    for _ in range(_PASSES):
        c = a
        for _ in range(12):
            c = np.tanh(c @ b)  # compute-bound, in cache
        total += float(c.sum() + big[::7].sum())  # plus a strided pass over ~2 MB: memory traffic
    return total


def run_canary(repeats: int = REPEATS) -> dict[str, Any]:
    """The numpy canary: its workload timed `repeats` times after one warm-up; median and spread in milliseconds."""
    rng = np.random.default_rng(1234)
    a = rng.standard_normal((_SIZE, _SIZE)) / np.sqrt(_SIZE)
    b = rng.standard_normal((_SIZE, _SIZE)) / np.sqrt(_SIZE)
    big = rng.standard_normal(1 << 18)
    _workload(a, b, big)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        _workload(a, b, big)
        times.append((time.perf_counter_ns() - t0) / 1e6)
    times.sort()
    return {"median_ms": round(times[len(times) // 2], 5), "min_ms": round(times[0], 5), "repeats": repeats}


def drift(canary_ms: float | None, baseline_ms: float | None) -> float | None:
    """Relative slow-down of a canary against the target's baseline (negative: faster)."""
    if canary_ms is None or not baseline_ms:
        return None
    return canary_ms / baseline_ms - 1.0
