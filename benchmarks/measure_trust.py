"""Measurement you can trust: repeatability on an idle machine, a CPU hog detected, device time against 100 runs.

(a) two back-to-back sweeps of the same 40 networks on an idle machine: median |Δ latency| (goal <= 1%) and
    Spearman rho of the latencies (goal >= 0.99), with the default 2 rounds and again with 4 and 8 rounds
    (`measurement.rounds`), each pair measured side by side in this run; beside each, the canary-normalised
    median |Δ| (derived: each latency over its own block's canary, hwbench.analysis.canary), which removes a
    whole-machine shift between the sweeps;
(b) the same sweep with a CPU hog pinned to the measured core for the first part of the measurement: share of the
    rounds timed while the hog ran that were judged disturbed (goal >= 95%), and the final stored figures' median
    |Δ| from sweep (a) (goal <= 3%: the disturbed rounds were re-measured after the hog ended);
(c) device time of the new protocol (2 rounds, adaptive stop) against a fixed 100-run protocol, with the coverage of
    the re-measured median (sweep (a)'s second pass) by each one's interval (goal: time ratio <= 0.5 at equal
    coverage).

Run on an idle machine: `python benchmarks/measure_trust.py` (about 10-15 min on 2 cores: 40 exports, four sweeps
of measurement); `--quick` is a smoke run on 4 tiny networks (about a minute).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from common import ROOT, save, table

TINY_MACRO = """\
family: cnn
description: tiny benchmark macro
resolution: 32
num_classes: 10
stem: {width: 8, kernel: 3, stride: 2}
stages:
  count: 2
  depth: {uniform_int: [1, 2], per_stage: true}
  width: {choice: [8, 16, 24], per_stage: true, order: increasing}
  stride: [2, 2]
head: {width: 32}
constraints:
  macs: {min: 0, max: 5M}
  max_attempts: 200
"""

HOG = "import os, time\nos.sched_setaffinity(0, {%d})\nend = time.time() + %f\nwhile time.time() < end: pass\n"


def spaces(work: Path, quick: bool) -> tuple[list[Path], int]:
    """(space files, networks per space): 5 default CNN spaces x 8, or 2 tiny spaces x 2."""
    if not quick:
        blocks = ["mbconv", "mbconv_se", "fused_mbconv", "resnet_bottleneck", "convnext"]
        return [ROOT / "design_spaces" / f"{b}.yaml" for b in blocks], 8
    (work / "macros").mkdir(parents=True, exist_ok=True)
    (work / "macros" / "tiny.yaml").write_text(TINY_MACRO)
    found = []
    for block in ("mbconv", "convnext"):
        path = work / f"tiny_{block}.yaml"
        path.write_text(f"name: tiny_{block}\ndescription: tiny\nmacro: macros/tiny.yaml\nblock: {block}\n")
        found.append(path)
    return found, 2


def target(work: Path, label: str, quick: bool, rounds: int = 2) -> Path:
    """onnxruntime, 1 thread, the shipped measurement settings with `rounds`; `label` only keys them apart."""
    text = (
        (ROOT / "targets" / "cpu-onnxruntime-1t.yaml").read_text().replace("name: cpu-onnxruntime-1t", f"name: {label}")
    )
    if quick:
        text = text.replace("max_seconds: 20", "max_seconds: 1").replace("max_runs: 5000", "max_runs: 400")
    # A cool-down zone without a threshold does nothing; it only keys these measurements apart from the others'.
    text = text.replace("measurement:\n", f"measurement:\n  cooldown_zone: {label}\n  rounds: {rounds}\n")
    path = work / f"{label}.yaml"
    path.write_text(text)
    return path


def sweep(store: Path, space_files: list[Path], n: int, tgt: Path, name: str) -> list[dict[str, Any]]:
    """Run one sweep (no training, no report); return its measurement rows keyed by network."""
    from hwbench.pipeline import SweepRequest, run_sweep
    from hwbench.store import Store

    run_sweep(SweepRequest(name=name, spaces=space_files, targets=[tgt], n=n, seed=0, store=store, report=False))
    db = Store(store)
    rows = db.query(
        "SELECT r.arch_id, m.* FROM runs r JOIN measurements m ON m.measure_key = r.measure_key "
        "WHERE r.sweep=? AND m.status='ok' ORDER BY r.arch_id",
        (name,),
    )
    out = [dict(r) for r in rows]
    db.close()
    return out


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman rank correlation (no ties expected in latencies)."""
    import numpy as np

    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def rel_deltas(x: list[dict[str, Any]], y: list[dict[str, Any]]) -> list[float]:
    by = {r["arch_id"]: r["median_ms"] for r in y}
    return [abs(r["median_ms"] / by[r["arch_id"]] - 1) for r in x if r["arch_id"] in by]


def canary_normalised(x: list[dict[str, Any]], y: list[dict[str, Any]]) -> dict[str, float]:
    """Median |Δ| after dividing each latency by its own block's canary (hwbench.analysis.canary, derived), and
    the canary ratio y/x of the two sweeps' blocks: how much of the raw |Δ| is the whole machine's shift."""
    import numpy as np

    from hwbench.analysis.canary import normalised_summary

    by = {r["arch_id"]: r for r in y}
    both = [(r, by[r["arch_id"]]) for r in x if r["arch_id"] in by]
    a, b = ([p[k]["median_ms"] for p in both] for k in (0, 1))
    ca, cb = ([p[k]["canary_ms"] if p[k]["canary_ms"] else np.nan for p in both] for k in (0, 1))
    found = normalised_summary(np.array(a), np.array(ca, dtype=float), np.array(b), np.array(cb, dtype=float))
    return {
        "median_abs_delta_canary_norm": found["median_abs_delta"],
        "canary_ratio": float(np.nanmedian(np.array(cb, dtype=float) / np.array(ca, dtype=float))),
    }


class HogWhenMeasuring(threading.Thread):
    """Starts a busy loop pinned to the measured core once the sweep's first round is stored, for `seconds`."""

    def __init__(self, store: Path, core: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.store, self.core, self.seconds = store, core, seconds
        self.proc: subprocess.Popen | None = None
        self.started_at: float | None = None
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                with sqlite3.connect(self.store, timeout=1) as con:
                    if con.execute("SELECT COUNT(*) FROM measurement_rounds").fetchone()[0]:
                        break
            except sqlite3.OperationalError:
                pass
            time.sleep(0.05)
        if not self.done.is_set():
            self.proc = subprocess.Popen([sys.executable, "-c", HOG % (self.core, self.seconds)])
            self.started_at = time.time()

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


def hogged_rounds(rows: list[dict[str, Any]], start: float, end: float) -> tuple[int, int]:
    """(attempts that ran at least half their time beside the hog, of those judged disturbed), from the rounds'
    attempt histories."""
    inside = flagged = 0
    for row in rows:
        for rnd in json.loads(row["info_json"])["rounds"]:
            for attempt in rnd["history"]:
                # The timed window starts after the re-measure's wait for quiet.
                t0 = datetime.fromisoformat(attempt["started_at"]).timestamp() + attempt.get("quiet_waited_s", 0.0)
                t1 = datetime.fromisoformat(attempt["finished_at"]).timestamp()
                overlap = min(t1, end) - max(t0, start)
                if overlap >= 0.5 * max(t1 - t0, 1e-9):  # at least half of the attempt ran beside the hog
                    inside += 1
                    flagged += bool(attempt["reasons"])
    return inside, flagged


def fixed_protocol(rows: list[dict[str, Any]], store: Path) -> list[dict[str, Any]]:
    """The same artifacts timed once each with a fixed 100-run protocol (same warm-up), in a worker process."""
    import numpy as np

    from hwbench.export.artifacts import ArtifactStore
    from hwbench.measure.stats import order_statistic_ci
    from hwbench.runners.local import measure_artifact
    from hwbench.store import Store
    from hwbench.workers import run_jobs

    db = Store(store)
    artifacts = ArtifactStore(store.parent / "artifacts")
    jobs = []
    for i, row in enumerate(rows):
        ext = db.query("SELECT extension FROM exports WHERE artifact_hash=? LIMIT 1", (row["artifact_hash"],))[0][0]
        protocol = {
            "warmup_runs": 10,
            "warmup_seconds": 0.2,
            "min_runs": 100,
            "min_seconds": 0.0,
            "max_runs": 100,
            "max_seconds": 600.0,
            "rel_ci": 1.0,
        }
        jobs.append(
            (
                i,
                {
                    "runner": "onnxruntime",
                    "path": str(artifacts.path(row["artifact_hash"], ext)),
                    "threads": 1,
                    "options": {"graph_optimization": "all", "io_binding": True},
                    "protocol": protocol,
                },
            )
        )
    db.close()
    out: list[dict[str, Any]] = [{} for _ in rows]
    for i, result in run_jobs(measure_artifact, jobs, workers=1, timeout=900, threads=1):
        ms = np.frombuffer(result["samples"], dtype="<f4").astype(float)
        lo, hi, _ = order_statistic_ci(ms)  # the interval a fixed protocol gives: independent runs assumed
        out[i] = {
            "arch_id": rows[i]["arch_id"],
            "median_ms": float(np.median(ms)),
            "ci_low_ms": lo,
            "ci_high_ms": hi,
            "device_seconds": result["device_seconds"],
        }
    return out


def covered(intervals: list[dict[str, Any]], truth: list[dict[str, Any]]) -> float:
    by = {r["arch_id"]: r["median_ms"] for r in truth}
    hits = [r["ci_low_ms"] <= by[r["arch_id"]] <= r["ci_high_ms"] for r in intervals if r["arch_id"] in by]
    return sum(hits) / len(hits)


def main() -> None:
    """Run (a), (b), (c) and save benchmarks/results/measure_trust.{txt,json}."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 tiny networks, short protocol")
    args = parser.parse_args()
    from hwbench.measure.interference import measurement_cores

    work = Path(tempfile.mkdtemp(prefix="hwbench-trust-"))
    space_files, n = spaces(work, args.quick)
    store = work / "store" / "trust.sqlite"
    t0 = time.time()
    # Exports and a warm-up pass of measurement (not used): the sweeps below measure only.
    sweep(store, space_files, n, target(work, "warm", args.quick), "warm")
    began = time.time()
    idle1 = sweep(store, space_files, n, target(work, "idle-1", args.quick), "idle-1")
    sweep_wall = time.time() - began
    idle2 = sweep(store, space_files, n, target(work, "idle-2", args.quick), "idle-2")
    d_idle = rel_deltas(idle1, idle2)
    norm_idle = canary_normalised(idle1, idle2)
    rho = spearman([r["median_ms"] for r in idle1], [r["median_ms"] for r in idle2])
    more_rounds = {}
    for rounds in (4, 8):
        one = sweep(store, space_files, n, target(work, f"idle-{rounds}r-1", args.quick, rounds), f"idle-{rounds}r-1")
        two = sweep(store, space_files, n, target(work, f"idle-{rounds}r-2", args.quick, rounds), f"idle-{rounds}r-2")
        more_rounds[rounds] = {
            "median_abs_delta": statistics.median(rel_deltas(one, two)),
            **canary_normalised(one, two),
            "spearman": spearman([r["median_ms"] for r in one], [r["median_ms"] for r in two]),
            "device_s": sum(r["device_seconds"] for r in one),
            "coverage": covered(one, two),
        }

    # (b) a hog on the measured core, from the first stored round on, for most of a sweep's measurement wall time:
    # long enough that the re-measures' waits run out and many rounds are timed beside it.
    hog_s = max(20.0, 0.8 * sweep_wall)
    core = measurement_cores(1)[0]
    hog = HogWhenMeasuring(store, core, hog_s)
    hog.start()
    try:
        hogged = sweep(store, space_files, n, target(work, "hogged", args.quick), "hogged")
    finally:
        hog.stop()
    hog_start = hog.started_at or 0.0
    inside, flagged = hogged_rounds(hogged, hog_start + 0.1, hog_start + hog_s)
    d_hog = rel_deltas(hogged, idle1)
    still = sum(int(r["disturbed"] or 0) for r in hogged)

    # (c) device time: new protocol (idle-1) against 100 fixed runs, both judged on idle-2's medians.
    fixed = fixed_protocol(idle1, store)
    new_s = sum(r["device_seconds"] for r in idle1)
    fixed_s = sum(r["device_seconds"] for r in fixed)
    cov_new, cov_fixed = covered(idle1, idle2), covered(fixed, idle2)

    figures = {
        "networks": len(idle1),
        "a_median_abs_delta": statistics.median(d_idle),
        "a_spearman": rho,
        "a_median_abs_delta_canary_norm": norm_idle["median_abs_delta_canary_norm"],
        "a_canary_ratio": norm_idle["canary_ratio"],
        "b_hog_seconds": hog_s,
        "b_attempts_during_hog": inside,
        "b_detected_share": flagged / inside if inside else None,
        "b_final_median_abs_delta_vs_idle": statistics.median(d_hog),
        "b_still_disturbed": still,
        "c_new_device_s": new_s,
        "c_fixed100_device_s": fixed_s,
        "c_time_ratio": new_s / fixed_s,
        "c_coverage_new": cov_new,
        "c_coverage_fixed100": cov_fixed,
        "more_rounds": more_rounds,
        "wall_s": time.time() - t0,
        "quick": args.quick,
    }
    goals = [
        ("(a) median |Δ| idle vs idle", f"{figures['a_median_abs_delta']:.2%}", "<= 1%"),
        ("(a) Spearman rho", f"{rho:.4f}", ">= 0.99"),
        (
            "(a) canary-normalised (derived) median |Δ|",
            f"{norm_idle['median_abs_delta_canary_norm']:.2%} (canary B/A {norm_idle['canary_ratio']:.3f})",
            "(the shift removed)",
        ),
        ("(b) hogged attempts judged disturbed", f"{flagged}/{inside}", ">= 95%"),
        ("(b) final median |Δ| vs idle", f"{figures['b_final_median_abs_delta_vs_idle']:.2%}", "<= 3%"),
        ("(b) results still flagged disturbed", f"{still}/{len(hogged)}", "(hog gone: 0 expected)"),
        ("(c) device time new / fixed-100", f"{figures['c_time_ratio']:.2f}x", "<= 0.5x at equal coverage"),
        ("(c) coverage of the re-measured median", f"new {cov_new:.0%}, fixed-100 {cov_fixed:.0%}", "equal"),
    ]
    for rounds, f in more_rounds.items():
        goals.insert(
            3 + (rounds == 8),
            (
                f"(a) median |Δ|, rho at {rounds} rounds",
                f"{f['median_abs_delta']:.2%}, {f['spearman']:.4f}; canary-normalised (derived) "
                f"{f['median_abs_delta_canary_norm']:.2%}",
                "<= 1%",
            ),
        )
        goals.append(
            (
                f"(c) {rounds} rounds: device time / fixed-100",
                f"{f['device_s'] / fixed_s:.2f}x, coverage {f['coverage']:.0%}",
                "(side by side)",
            )
        )
    text = table([{"figure": g[0], "value": g[1], "goal": g[2]} for g in goals], ["figure", "value", "goal"])
    text += f"\n{len(idle1)} networks, onnxruntime 1 thread, {'QUICK smoke run' if args.quick else 'full run'}; "
    text += f"hog {hog_s:.0f} s on core {core}; wall {figures['wall_s']:.0f} s"
    print(text)
    if args.quick:  # a smoke run's figures are not results: nothing is written
        print("(--quick: nothing saved; run without it on an idle machine for benchmarks/results/measure_trust.*)")
    else:
        save("measure_trust", text, figures)


if __name__ == "__main__":
    main()
