"""The results table: one row per (sweep, architecture, target), joined from the store."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hwbench.analysis.artifact_info import ARTIFACT_COLUMNS, artifact_facts
from hwbench.errors import HwbenchError
from hwbench.store import Store

# CROSS JOIN makes SQLite walk the sweep's samples and look each run up by its key (sweep, arch_id, target);
# left to itself it scanned every sample of the sweep per run, quadratic in the sweep size.
_SQL = """
SELECT r.sweep, sa.space, sa.sample_index, r.arch_id, a.family, a.block, a.macs, a.params, a.acts,
       r.target, r.export_key, r.measure_key, e.format, e.status AS export_status, e.error AS export_error,
       e.export_seconds, e.parity_ok, e.max_abs_err, e.artifact_hash,
       m.status AS measure_status, m.error AS measure_error, m.median_ms, m.mean_ms, m.std_ms, m.cov,
       m.min_ms, m.p10_ms, m.p90_ms, m.p99_ms, m.ci_low_ms, m.ci_high_ms, m.rel_ci, m.n_runs, m.converged,
       m.device_seconds, m.finished_at AS measured_at, m.prov_id, m.disturbed, m.disturbed_reason, m.rounds,
       m.n_eff, m.foreign_share, m.canary_drift,
       e.info_json AS export_info, m.info_json AS measure_info
FROM sweep_archs sa
CROSS JOIN runs r ON r.sweep = sa.sweep AND r.arch_id = sa.arch_id
JOIN archs a ON a.arch_id = r.arch_id
LEFT JOIN exports e ON e.export_key = r.export_key
LEFT JOIN measurements m ON m.measure_key = r.measure_key
WHERE sa.sweep IN ({marks})
ORDER BY r.sweep, r.target, sa.space, sa.sample_index
"""


# The accuracy of a sweep's network: its newest successful evaluation of the PyTorch model linked to the sweep.
_ACC_SQL = """
SELECT sa.sweep, a.arch_id, a.dataset, a.schedule, a.source AS accuracy_source, a.top1, a.top5,
       json_extract(a.info_json, '$.val_images') AS eval_images,
       json_extract(a.info_json, '$.resolution') AS eval_resolution, a.created_at
FROM sweep_accuracy sa JOIN accuracies a ON a.acc_key = sa.acc_key
WHERE sa.sweep IN ({marks}) AND a.status = 'ok' AND a.evaluated_on = 'torch'
ORDER BY a.created_at
"""

# Accuracy of exported artifacts themselves (e.g. int8), keyed by the export they evaluated.
_ARTIFACT_ACC_SQL = """
SELECT sa.sweep, a.arch_id, a.evaluated_on AS export_key, a.top1 AS artifact_top1, a.created_at
FROM sweep_accuracy sa JOIN accuracies a ON a.acc_key = sa.acc_key
WHERE sa.sweep IN ({marks}) AND a.status = 'ok' AND a.source = 'artifact'
ORDER BY a.created_at
"""

ACCURACY_COLUMNS = ["dataset", "schedule", "accuracy_source", "top1", "top5", "eval_images", "eval_resolution"]


def results_frame(store: Store, sweeps: list[str]) -> pd.DataFrame:
    """Every result of the given sweeps, with a combined `status` column (ok / export_error / ...).

    Accuracy columns (`top1`, `top5` in [0, 1], `dataset`, `schedule`, `accuracy_source`, and
    `artifact_top1` for an evaluated artifact) are NaN where the store has no accuracy for a network.
    Artifact columns (delegation, fully-integer, int8 fidelity, ...) are described in
    hwbench.analysis.artifact_info.
    ViT columns (`token_form`, `token_macs`, `speedup_vs_dense`, ...) are described in hwbench.analysis.tokens.
    Measurement-trust columns (docs/measurement.md): `disturbed` (1: still disturbed after re-measuring, 0: clean,
    NaN: measured before rounds existed or not measured), `disturbed_reason`, `rounds`, `n_eff` (effective
    independent runs), `foreign_share` (largest share of the measured cores other processes took in a round) and
    `canary_drift` (largest canary slow-down against the target's baseline).
    """
    store.require_sweeps(sweeps)
    marks = ",".join("?" for _ in sweeps)
    rows = store.query(_SQL.format(marks=marks), tuple(sweeps))
    frame = pd.DataFrame([tuple(r) for r in rows], columns=_columns())  # tuples: 3× faster than dicts
    frame["status"] = _statuses(frame["export_status"], frame["measure_status"])
    frame["error"] = frame["measure_error"].fillna(frame["export_error"])
    facts = [artifact_facts(e, m) for e, m in zip(frame["export_info"], frame["measure_info"])]
    facts_frame = pd.DataFrame(facts, columns=ARTIFACT_COLUMNS, index=frame.index)
    frame = pd.concat([frame.drop(columns=["export_info", "measure_info"]), facts_frame], axis=1)
    acc = pd.DataFrame(
        [dict(r) for r in store.query(_ACC_SQL.format(marks=marks), tuple(sweeps))],
        columns=["sweep", "arch_id", *ACCURACY_COLUMNS, "created_at"],
    )
    acc = acc.drop_duplicates(["sweep", "arch_id"], keep="last").drop(columns="created_at")
    frame = frame.merge(acc, on=["sweep", "arch_id"], how="left")
    art = pd.DataFrame(
        [dict(r) for r in store.query(_ARTIFACT_ACC_SQL.format(marks=marks), tuple(sweeps))],
        columns=["sweep", "arch_id", "export_key", "artifact_top1", "created_at"],
    )
    art = art.drop_duplicates(["sweep", "arch_id", "export_key"], keep="last").drop(columns="created_at")
    frame = frame.merge(art, on=["sweep", "arch_id", "export_key"], how="left")
    from hwbench.analysis.tokens import add_token_columns

    return add_token_columns(frame, store)


def _columns() -> list[str]:
    select = _SQL.split("FROM")[0].replace("SELECT", "")
    return [part.strip().split(" AS ")[-1].split(".")[-1] for part in select.split(",")]


def _statuses(export_status: pd.Series, measure_status: pd.Series) -> pd.Series:
    """ok / export_error / measure_error / pending per row, from the export's and the measurement's status."""
    conditions = [
        export_status.isna(),
        export_status != "ok",
        measure_status.isna(),
        measure_status == "ok",
    ]
    choices = ["pending", "export_error", "pending", "ok"]
    return pd.Series(np.select(conditions, choices, default="measure_error"), index=export_status.index)


def require_rows(frame: pd.DataFrame, sweeps: list[str]) -> None:
    """Raise a clear error when the sweeps hold no results at all."""
    if frame.empty:
        raise HwbenchError(f"sweep {', '.join(sweeps)} has no results yet (run `hwbench sweep` to fill it)")
