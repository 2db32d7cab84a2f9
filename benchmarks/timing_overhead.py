"""hwbench's timing loop against a bare `InferenceSession.run` loop on the same ONNX model, side by side.

Both loops call the same `session.run(None, feeds)`; blocks of runs alternate (bare, hwbench, bare, ...)
so machine drift hits both equally. Overhead ratio = hwbench wall time per inference / bare wall time per
inference, over the whole timed phase (timestamps and the adaptive-stop checks included). Goal: <= 1.01
for a model of >= 1 ms.
"""

from __future__ import annotations

import statistics
import time

from common import export_onnx, sample_specs, save, table

RUNS = 300
ROUNDS = 10


def main() -> None:
    """Measure and print the overhead ratio for a few models."""
    import numpy as np
    import onnxruntime as ort

    from hwbench.measure.timing import Protocol, run_protocol

    rows = []
    for label, spec in [s for s in sample_specs() if s[0] in ("mobilenet_v2", "mbconv#0", "convnext#0")]:
        path, _ = export_onnx(spec)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        feeds = {
            sess.get_inputs()[0].name: np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
        }
        run = sess.run
        for _ in range(30):
            run(None, feeds)
        # rel_ci is unreachable, so the loop does every adaptive check on its way to max_runs: the worst case.
        protocol = Protocol(
            warmup_runs=0, warmup_seconds=0, min_runs=20, min_seconds=0, max_runs=RUNS, max_seconds=1e9, rel_ci=1e-9
        )
        ratios, bare_ms, hw_ms = [], [], []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            for _ in range(RUNS):
                run(None, feeds)
            bare = (time.perf_counter() - t0) / RUNS
            t0 = time.perf_counter()
            timing = run_protocol(lambda run=run, feeds=feeds: run(None, feeds), protocol)
            hw = (time.perf_counter() - t0) / len(timing.samples_ns)
            ratios.append(hw / bare)
            bare_ms.append(bare * 1e3)
            hw_ms.append(hw * 1e3)
        rows.append(
            {
                "model": label,
                "bare_ms": statistics.median(bare_ms),
                "hwbench_ms": statistics.median(hw_ms),
                "ratio_median": statistics.median(ratios),
                "ratio_min": min(ratios),
                "ratio_max": max(ratios),
            }
        )
    text = table(rows, ["model", "bare_ms", "hwbench_ms", "ratio_median", "ratio_min", "ratio_max"])
    text += f"\n({ROUNDS} alternating rounds of {RUNS} runs each, onnxruntime 1 thread; goal ratio <= 1.01)"
    save("timing_overhead", text, rows)


if __name__ == "__main__":
    main()
