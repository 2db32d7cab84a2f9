"""Device time of the adaptive stop (until the median's 95% CI is within ±1%) against a fixed 100-run protocol.

Same models, same session, same warm-up; the two protocols alternate per model and repeat, so drift hits
both. Device time counts the timed phase (warm-up is identical for both and reported apart). The table
also checks that the fixed protocol's median lies inside the adaptive run's CI (agreement) and whether 100
fixed runs actually reached ±1%. Goal: adaptive / fixed <= 0.5.
"""

from __future__ import annotations

import statistics

from common import export_onnx, sample_specs, save, table

REPEATS = 3


def main() -> None:
    """Run both protocols on each sample network and print the time ratio."""
    import numpy as np
    import onnxruntime as ort

    from hwbench.config.target import MeasurementSettings
    from hwbench.measure.stats import summarize
    from hwbench.measure.timing import Protocol, run_protocol

    adaptive = MeasurementSettings().protocol()  # hwbench's defaults: ±1% at 95%
    fixed = Protocol(warmup_runs=0, warmup_seconds=0, min_runs=100, min_seconds=0, max_runs=100, rel_ci=1.0)
    rows = []
    for label, spec in sample_specs():
        path, _ = export_onnx(spec)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        feeds = {
            sess.get_inputs()[0].name: np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
        }
        fn = lambda sess=sess, feeds=feeds: sess.run(None, feeds)  # noqa: E731
        warm = run_protocol(
            fn,
            Protocol(
                warmup_runs=adaptive.warmup_runs,
                warmup_seconds=adaptive.warmup_seconds,
                min_runs=2,
                max_runs=2,
                min_seconds=0,
            ),
        )
        ratios, agree, fixed_tight, runs = [], 0, 0, []
        for _ in range(REPEATS):
            a = run_protocol(fn, Protocol(**{**adaptive.as_dict(), "warmup_runs": 0, "warmup_seconds": 0}))
            f = run_protocol(fn, fixed)
            sa, sf = summarize(a.samples_ns), summarize(f.samples_ns)
            ratios.append(a.samples_ns.sum() / f.samples_ns.sum())
            agree += sa["ci_low_ms"] <= sf["median_ms"] <= sa["ci_high_ms"]
            fixed_tight += sf["rel_ci"] <= 0.01
            runs.append(len(a.samples_ns))
        rows.append(
            {
                "model": label,
                "median_ms": sa["median_ms"],
                "warmup_s": warm.device_seconds,
                "adaptive_runs": int(statistics.median(runs)),
                "time_ratio": statistics.median(ratios),
                "fixed_reached_1pct": f"{fixed_tight}/{REPEATS}",
                "fixed_median_in_adaptive_ci": f"{agree}/{REPEATS}",
            }
        )
    overall = statistics.median(r["time_ratio"] for r in rows)
    text = table(
        rows,
        [
            "model",
            "median_ms",
            "warmup_s",
            "adaptive_runs",
            "time_ratio",
            "fixed_reached_1pct",
            "fixed_median_in_adaptive_ci",
        ],
    )
    text += (
        f"\nmedian time ratio adaptive/fixed-100 = {overall:.3f} (goal <= 0.5); adaptive = hwbench defaults "
        f"(min_runs {adaptive.min_runs}, min_seconds {adaptive.min_seconds}, rel_ci {adaptive.rel_ci})"
    )
    save("adaptive_stop", text, {"rows": rows, "median_ratio": overall})


if __name__ == "__main__":
    main()
