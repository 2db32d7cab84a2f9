"""Write hand-made results (and accuracies) into a real store, the way a sweep and the accuracy stage would."""

from __future__ import annotations

from typing import Any

import numpy as np

from hwbench.store import Store
from hwbench.store.store import utcnow

PROV = {"machine": {"hostname": "box", "cpu_model": "cpu"}, "versions": {"onnxruntime": "1"}}


def add_accuracy(store: Store, sweep: str, arch: str, top1: float, dataset: str = "cifar10", schedule: str = "s1"):
    """An accuracy record of the PyTorch model, linked to the sweep (as the accuracy stage writes it)."""
    key = f"acc-{arch}-{dataset}-{schedule}"
    store.db.execute(
        "INSERT OR REPLACE INTO accuracies (acc_key, arch_id, dataset, dataset_id, schedule, schedule_hash, "
        "evaluated_on, source, status, top1, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (key, arch, dataset, dataset, schedule, schedule, "torch", "trained", "ok", top1, utcnow()),
    )
    store.db.execute("INSERT OR IGNORE INTO sweep_accuracy VALUES (?,?,?)", (sweep, arch, key))


def add_result(store: Store, sweep: str, row: dict[str, Any], prov: dict[str, Any] | None = None) -> None:
    """One network on one target: arch, sample link, export and (unless ms is None) measurement.

    row: block, index, target, ms (None: export failed), macs, params, and optional top1, samples (array of ms),
    cov, converged, space, and the block's canary (canary_kind, canary_ms, canary_n, canary_rel_sd).
    """
    block, i, target = row["block"], row["index"], row["target"]
    arch = row.get("arch") or f"{block}-{i}"
    space = row.get("space", block)
    cx = {"macs": int(row.get("macs", (i + 1) * 10**8)), "params": int(row.get("params", (i + 1) * 10**6)), "acts": 1}
    store.ensure_sweep(sweep, 0, {})
    store.put_arch(arch, "cnn", block, "{}", cx)
    store.link_arch(sweep, space, i, arch, f"{space}.yaml")
    ekey = f"e-{arch}-{target}"
    ok = row.get("ms") is not None
    store.put_export(
        {
            "export_key": ekey,
            "arch_id": arch,
            "format": "onnx",
            "profile_json": {},
            "status": "ok" if ok else "error",
            "error": None if ok else "Boom: unsupported op",
            "artifact_hash": f"h-{arch}-{target}" if ok else None,
        }
    )
    if "top1" in row and row["top1"] is not None:
        add_accuracy(store, sweep, arch, row["top1"], row.get("dataset", "cifar10"), row.get("schedule", "s1"))
    if not ok:
        store.link_run(sweep, arch, target, ekey, None)
        return
    ms = float(row["ms"])
    samples = row.get("samples")
    mkey = f"m-{arch}-{target}-{sweep}-{row.get('machine', '')}"
    store.put_measurement(
        {
            "measure_key": mkey,
            "artifact_hash": f"h-{arch}-{target}",
            "target_fp": "fp",
            "target": target,
            "settings_json": {},
            "status": "ok",
            "median_ms": ms,
            "ci_low_ms": ms * 0.99,
            "ci_high_ms": ms * 1.01,
            "cov": row.get("cov", 0.02),
            "converged": row.get("converged", 1),
            "n_runs": 100,
            "samples": None if samples is None else np.asarray(samples, dtype="<f4").tobytes(),
            "finished_at": utcnow(),
            **{k: row[k] for k in ("canary_kind", "canary_ms", "canary_n", "canary_rel_sd") if k in row},
        },
        prov or PROV,
        (sweep, arch, target, ekey, mkey),
    )


def fill(store: Store, sweep: str, rows: list[dict[str, Any]], prov: dict[str, Any] | None = None) -> None:
    """Many results at once."""
    for row in rows:
        add_result(store, sweep, row, prov)
