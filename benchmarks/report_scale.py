"""Analysis + report over 10k, 30k and 100k stored results: seconds per phase and how they grow.

Each size is a synthetic store shaped like a real sweep: 5 blocks × 4 targets, one architecture per
(block, sample), accuracy per architecture (10,000 evaluation images), 256 raw float32 samples per measurement,
provenance, 1% failed exports. The phases are the ones `hwbench report` runs: read the results table, read the
raw samples, analyse (1000 bootstrap replicates), write figures + CSV + HTML. Goals: the 100k report well under a
minute, its analysis phase at most 10 s (issue 19).
Usage: python benchmarks/report_scale.py [sizes...]   (default 10000 30000 100000)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from common import save, table

BLOCKS = ["mbconv", "mbconv_se", "fused_mbconv", "resnet_bottleneck", "convnext"]
TARGETS = ["cpu-ort-1t", "cpu-ort-2t", "arm-litert-int8", "npu-openvino"]
SAMPLES = 256
# Every accuracy says what it was evaluated on, as the trainer's records do: the bootstrap then redraws each
# accuracy from its binomial posterior (docs/statistics.md), the realistic and costlier case.
EVAL_INFO = '{"val_images": 10000, "resolution": 32}'


def write_store(path: Path, n_results: int, seed: int = 0) -> None:
    """A store with n_results (architecture, target) results, written in bulk."""
    import numpy as np

    from hwbench.store import Store
    from hwbench.store.keys import canonical
    from hwbench.store.store import utcnow

    rng = np.random.default_rng(seed)
    store = Store(path)
    db, now = store.db, utcnow()
    per_block = n_results // (len(BLOCKS) * len(TARGETS))
    store.ensure_sweep("big", seed, {})
    provs = {
        t: canonical(
            {
                "machine": {"hostname": "bench", "cpu_model": "synthetic", "governor": "performance"},
                "target": {"runner": t.split("-")[1], "threads": 1, "versions": {"rt": "1.0"}},
                "commit": "0" * 40,
            }
        )
        for t in TARGETS
    }
    archs, links, exports, measures, runs, accs, sacc = [], [], [], [], [], [], []
    for b, block in enumerate(BLOCKS):
        macs = np.exp(rng.uniform(np.log(5e7), np.log(6e8), per_block))
        top1 = 0.55 + 0.08 * np.log(macs / 5e7) + rng.normal(0, 0.015, per_block) + 0.004 * b
        for i in range(per_block):
            arch = f"{block}-{i}"
            archs.append((arch, "cnn", block, "{}", int(macs[i]), int(macs[i] / 80), int(macs[i] / 50), now))
            links.append(("big", block, i, arch, f"{block}.yaml"))
            acc = (f"acc-{arch}", arch, "cifar10", "c10", "short", "s1", "torch", "trained", "ok", top1[i], now)
            accs.append((*acc, EVAL_INFO))
            sacc.append(("big", arch, f"acc-{arch}"))
        for t, target in enumerate(TARGETS):
            speed = 1.0 + 0.25 * ((b + t) % len(BLOCKS))
            median = macs / 1e8 * speed * np.exp(rng.normal(0, 0.08, per_block))
            noise = rng.lognormal(0, 0.03, (per_block, SAMPLES)).astype("<f4")
            failed = rng.random(per_block) < 0.01
            for i in range(per_block):
                arch, ekey, mkey = f"{block}-{i}", f"e-{block}-{i}-{t}", f"m-{block}-{i}-{t}"
                exports.append(
                    (
                        ekey,
                        arch,
                        "onnx",
                        "{}",
                        "error" if failed[i] else "ok",
                        "boom" if failed[i] else None,
                        None if failed[i] else f"h{ekey}",
                        now,
                    )
                )
                if failed[i]:
                    runs.append(("big", arch, target, ekey, None, now))
                    continue
                s = (median[i] * noise[i]).astype("<f4")
                measures.append(
                    (
                        mkey,
                        f"h{ekey}",
                        "fp",
                        target,
                        "{}",
                        "ok",
                        float(np.median(s)),
                        float(s.std() / s.mean()),
                        float(np.median(s)) * 0.99,
                        float(np.median(s)) * 1.01,
                        SAMPLES,
                        1,
                        s.tobytes(),
                        target,
                        now,
                    )
                )
                runs.append(("big", arch, target, ekey, mkey, now))
    with store.transaction():
        for target, doc in provs.items():
            db.execute("INSERT INTO provenance VALUES (?,?)", (target, doc))
        db.executemany("INSERT INTO archs VALUES (?,?,?,?,?,?,?,?)", archs)
        db.executemany("INSERT INTO sweep_archs VALUES (?,?,?,?,?)", links)
        db.executemany(
            "INSERT INTO exports (export_key, arch_id, format, profile_json, status, error, artifact_hash,"
            " created_at) VALUES (?,?,?,?,?,?,?,?)",
            exports,
        )
        db.executemany(
            "INSERT INTO measurements (measure_key, artifact_hash, target_fp, target, settings_json, status,"
            " median_ms, cov, ci_low_ms, ci_high_ms, n_runs, converged, samples, prov_id, finished_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            measures,
        )
        db.executemany("INSERT INTO runs VALUES (?,?,?,?,?,?)", runs)
        db.executemany(
            "INSERT INTO accuracies (acc_key, arch_id, dataset, dataset_id, schedule, schedule_hash,"
            " evaluated_on, source, status, top1, created_at, info_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            accs,
        )
        db.executemany("INSERT INTO sweep_accuracy VALUES (?,?,?)", sacc)
    store.close()


# The results-table query as it was before the CROSS JOIN fix (SQLite scanned every sample of the sweep per run).
_OLD_JOIN = (
    "FROM runs r\nJOIN archs a ON a.arch_id = r.arch_id\n"
    "JOIN sweep_archs sa ON sa.sweep = r.sweep AND sa.arch_id = r.arch_id"
)
_NEW_JOIN = (
    "FROM sweep_archs sa\nCROSS JOIN runs r ON r.sweep = sa.sweep AND r.arch_id = sa.arch_id\n"
    "JOIN archs a ON a.arch_id = r.arch_id"
)


def query_seconds(path: Path) -> dict[str, float]:
    """Median of 3 runs of the results-table query, old join order and current, side by side."""
    import statistics

    from hwbench.analysis.table import _SQL
    from hwbench.store import Store

    assert _NEW_JOIN in _SQL, "the results query changed; update this benchmark"
    old = _SQL.replace(_NEW_JOIN, _OLD_JOIN).replace("WHERE sa.sweep IN", "WHERE r.sweep IN")
    store, out = Store(path, create=False), {}
    for name, sql in (("old_join_s", old), ("cross_join_s", _SQL)):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            store.query(sql.format(marks="?"), ("big",))
            times.append(time.perf_counter() - t)
        out[name] = statistics.median(times)
    store.close()
    return out


def run_once(path: Path, outdir: Path) -> dict[str, float]:
    """Seconds per phase of one `hwbench report` over the store."""
    from hwbench.analysis.analyse import Options, analyse_frame
    from hwbench.analysis.median_noise import load_samples
    from hwbench.analysis.provenance import load_provenance
    from hwbench.analysis.table import results_frame
    from hwbench.report.html import render_report
    from hwbench.store import Store

    t0 = time.perf_counter()
    store = Store(path, create=False)
    frame = results_frame(store, ["big"])
    t1 = time.perf_counter()
    samples = load_samples(store, ["big"])
    docs = load_provenance(store, frame["prov_id"].dropna().unique().tolist())
    t2 = time.perf_counter()
    analysis = analyse_frame(frame, samples, docs, Options(n_boot=1000), ["big"])
    t3 = time.perf_counter()
    render_report(analysis, outdir)
    t4 = time.perf_counter()
    store.close()
    return {
        "read_table_s": t1 - t0,
        "read_samples_s": t2 - t1,
        "analyse_s": t3 - t2,
        "report_s": t4 - t3,
        "total_s": t4 - t0,
        "html_mb": (outdir / "report.html").stat().st_size / 1e6,
    }


def main(sizes: list[int]) -> None:
    """Build each store, run the report twice (the second run is quoted), print the table and the growth."""
    rows, queries = [], []
    with tempfile.TemporaryDirectory(prefix="hwbench-report-scale-") as tmp:
        for n in sizes:
            path = Path(tmp) / f"s{n}.sqlite"
            t = time.perf_counter()
            write_store(path, n)
            built = time.perf_counter() - t
            run_once(path, Path(tmp) / f"warm{n}")  # warm the page cache and imports
            result = run_once(path, Path(tmp) / f"r{n}")
            rows.append({"results": n, "store_mb": path.stat().st_size / 1e6, "build_store_s": built, **result})
            print(rows[-1], flush=True)
            if n <= 30_000:  # the old query is quadratic: minutes at 100k
                q = query_seconds(path)
                queries.append({"results": n, **q, "speedup": q["old_join_s"] / q["cross_join_s"]})
    text = table(
        rows, ["results", "store_mb", "read_table_s", "read_samples_s", "analyse_s", "report_s", "total_s", "html_mb"]
    )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = last["total_s"] / first["total_s"]
        text += (
            f"\n{first['results']} → {last['results']} results ({last['results'] / first['results']:.0f}× more):"
            f" total time × {growth:.2f}"
        )
    if queries:
        text += "\n\nresults-table query, old join order vs CROSS JOIN (median of 3, same store):\n"
        text += table(queries, ["results", "old_join_s", "cross_join_s", "speedup"])
    load = os.getloadavg()
    text += f"\nload average while measuring (1/5/15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    save("report_scale", text, {"phases": rows, "query": queries})


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 30_000, 100_000])
