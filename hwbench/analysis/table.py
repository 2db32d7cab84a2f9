"""The results table: one row per (sweep, architecture, target), joined from the store."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hwbench.analysis.artifact_info import ARTIFACT_COLUMNS, artifact_facts
from hwbench.analysis.canary import add_canary_norm
from hwbench.errors import HwbenchError
from hwbench.modelled import MODELLED_TARGET_SQL
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
       m.n_eff, m.foreign_share, m.canary_drift, m.canary_kind, m.canary_ms, m.canary_n, m.canary_rel_sd,
       e.info_json AS export_info, m.info_json AS measure_info
FROM sweep_archs sa
CROSS JOIN runs r ON r.sweep = sa.sweep AND r.arch_id = sa.arch_id
JOIN archs a ON a.arch_id = r.arch_id
LEFT JOIN exports e ON e.export_key = r.export_key
LEFT JOIN measurements m ON m.measure_key = r.measure_key
WHERE sa.sweep IN ({marks})
  AND NOT EXISTS (SELECT 1 FROM sweep_targets st WHERE st.sweep = r.sweep AND st.target = r.target
                  AND {modelled})
ORDER BY r.sweep, r.target, sa.space, sa.sample_index
"""
# Modelled targets (runner zigzag) are left out above: their figures are not measurements and live in their own
# table (hwbench.analysis.modelled reads them, and every view labels them modelled).


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

# Detection (schema 4): the COCO metrics of a sweep's trained detector (newest successful PyTorch evaluation) and
# the images they were scored on. Kept apart from eval_images, the binomial basis of a top-1 (mAP has none).
_DET_ACC_SQL = """
SELECT sa.sweep, a.arch_id, a.map, a.map50, a.map75, a.map_small, a.map_medium, a.map_large, a.map_ci_low,
       a.map_ci_high, json_extract(a.info_json, '$.eval_images') AS map_eval_images, a.created_at
FROM sweep_accuracy sa JOIN accuracies a ON a.acc_key = sa.acc_key
WHERE sa.sweep IN ({marks}) AND a.status = 'ok' AND a.evaluated_on = 'torch' AND a.map IS NOT NULL
ORDER BY a.created_at
"""

# Latency in parts of a sweep's trained detector on a target, with the per-image lists the report plots.
_DET_TIMING_SQL = """
SELECT l.sweep, l.arch_id, l.target, d.status AS det_status, d.error AS det_error, d.placement AS nms_placement,
       d.nms_json AS nms_settings, d.images AS det_images, d.graph_ms AS det_graph_ms, d.nms_ms AS det_nms_ms,
       d.e2e_ms AS det_e2e_ms, d.e2e_p10_ms AS det_e2e_p10_ms, d.e2e_p90_ms AS det_e2e_p90_ms, d.boxes_before,
       d.boxes_above, d.boxes_kept, d.nms_ms_per_1000, d.artifact_map, d.artifact_map50, d.artifact_map_ci_low,
       d.artifact_map_ci_high, d.artifact_images AS artifact_map_images,
       json_object('graph_ms', json_extract(d.info_json, '$.graph_ms'), 'nms_ms', json_extract(d.info_json, '$.nms_ms'),
                   'e2e_ms', json_extract(d.info_json, '$.e2e_ms'),
                   'above_threshold', json_extract(d.info_json, '$.above_threshold'),
                   'kept', json_extract(d.info_json, '$.kept')) AS det_per_image
FROM sweep_detection_timings l JOIN detection_timings d ON d.timing_key = l.timing_key
WHERE l.sweep IN ({marks})
"""

_DET_ARCH_SQL = """
SELECT DISTINCT sa.sweep, a.arch_id, a.boxes, a.head_macs FROM sweep_archs sa JOIN archs a ON a.arch_id = sa.arch_id
WHERE sa.sweep IN ({marks}) AND (a.boxes IS NOT NULL OR a.head_macs IS NOT NULL)
"""

DETECTION_ACCURACY_COLUMNS = [
    "map",
    "map50",
    "map75",
    "map_small",
    "map_medium",
    "map_large",
    "map_ci_low",
    "map_ci_high",
    "map_eval_images",
]
DETECTION_TIMING_COLUMNS = [
    "det_status",
    "det_error",
    "nms_placement",
    "nms_settings",
    "det_images",
    "det_graph_ms",
    "det_nms_ms",
    "det_e2e_ms",
    "det_e2e_p10_ms",
    "det_e2e_p90_ms",
    "boxes_before",
    "boxes_above",
    "boxes_kept",
    "nms_ms_per_1000",
    "artifact_map",
    "artifact_map50",
    "artifact_map_ci_low",
    "artifact_map_ci_high",
    "artifact_map_images",
    "det_per_image",
]
DETECTION_COLUMNS = ["boxes", "head_macs", *DETECTION_ACCURACY_COLUMNS, *DETECTION_TIMING_COLUMNS, "nms_share"]


def results_frame(store: Store, sweeps: list[str]) -> pd.DataFrame:
    """Every result of the given sweeps, with a combined `status` column (ok / export_error / ...).

    Accuracy columns (`top1`, `top5` in [0, 1], `dataset`, `schedule`, `accuracy_source`, and
    `artifact_top1` for an evaluated artifact) are NaN where the store has no accuracy for a network.
    Artifact columns (delegation, fully-integer, int8 fidelity, ...) are described in
    hwbench.analysis.artifact_info.
    ViT columns (`token_form`, `token_macs`, `speedup_vs_dense`, ...) are described in hwbench.analysis.tokens.
    Detection columns (`map`, `boxes`, `head_macs`, `det_e2e_ms`, `nms_share`, ...) appear only when the sweeps hold
    detectors; they are described in add_detection_columns.
    `reference`: the name of a reference network (`hwbench sweep --reference`), "" for every sampled network;
    `stage_blocks`: a hybrid network's block per stage ('mbconv|fused_mbconv|...'), "" for other networks.
    Measurement-trust columns (docs/measurement.md): `disturbed` (1: still disturbed after re-measuring, 0: clean,
    NaN: measured before rounds existed or not measured), `disturbed_reason`, `rounds`, `n_eff` (effective
    independent runs), `foreign_share` (largest share of the measured cores other processes took in a round) and
    `canary_drift` (largest canary slow-down against the target's baseline); the machine's speed when measured:
    `canary_kind`, `canary_ms` (median canary of the target block that measured the result), `canary_n` (its
    timings) and `canary_rel_sd` (their relative spread), NaN for results stored before schema 8; and, derived,
    `median_ms_canary_norm` = median_ms × `canary_ref_ms` / canary_ms, the reference being the median block
    canary of the target's measurements in these sweeps (hwbench.analysis.canary; assumes a uniform shift).
    """
    store.require_sweeps(sweeps)
    marks = ",".join("?" for _ in sweeps)
    rows = store.query(_SQL.format(marks=marks, modelled=MODELLED_TARGET_SQL), tuple(sweeps))
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
    from hwbench.analysis.det_tokens import add_det_token_columns
    from hwbench.analysis.reference import add_reference_column
    from hwbench.analysis.stage_blocks import add_stage_blocks
    from hwbench.analysis.tokens import add_token_columns

    frame = add_det_token_columns(add_detection_columns(add_token_columns(frame, store), store, sweeps), store)
    return add_canary_norm(add_stage_blocks(add_reference_column(frame), store, sweeps))


def add_detection_columns(frame: pd.DataFrame, store: Store, sweeps: list[str]) -> pd.DataFrame:
    """Add DETECTION_COLUMNS when the sweeps hold detectors (a frame without detectors is returned as it was).

    `boxes` (candidate boxes per image, one per anchor) and `head_macs` come from the network; `map` … `map_large`
    (COCO AP@[.5:.95], AP50, AP75, AP small/medium/large in [0, 1]), `map_ci_low`/`map_ci_high` (the 95% bootstrap
    interval of mAP over the evaluation images; NaN in records stored before it existed) and `map_eval_images` from
    its newest trained evaluation; `artifact_map`, `artifact_map50`, `artifact_map_ci_low/high` and
    `artifact_map_images` score the exported artifact itself on the target (e.g. int8), where its timing did.
    The latency parts were timed with trained weights on `det_images` test images at batch 1:
    `det_graph_ms` (backbone + head + box decoding), `det_nms_ms` and `det_e2e_ms` are medians over images of each
    image's median (`det_e2e_p10_ms`/`_p90_ms`: spread over images); `nms_share` = det_nms_ms / det_e2e_ms;
    `boxes_above` / `boxes_kept`: median per image over the score threshold / after NMS; `nms_placement`: host
    (numpy NMS, timed apart) or graph (in the graph: det_nms_ms and nms_share are NaN); `det_per_image`: the
    per-image lists as JSON (graph_ms, nms_ms, e2e_ms, above_threshold, kept).
    """
    marks = ",".join("?" for _ in sweeps)
    archs = _query_frame(store, _DET_ARCH_SQL, marks, sweeps, ["sweep", "arch_id", "boxes", "head_macs"])
    acc = _query_frame(
        store, _DET_ACC_SQL, marks, sweeps, ["sweep", "arch_id", *DETECTION_ACCURACY_COLUMNS, "created_at"]
    )
    timing_keys = ["sweep", "arch_id", "target"]
    parts = _query_frame(store, _DET_TIMING_SQL, marks, sweeps, [*timing_keys, *DETECTION_TIMING_COLUMNS])
    if archs.empty and acc.empty and parts.empty:
        return frame
    acc = acc.drop_duplicates(["sweep", "arch_id"], keep="last").drop(columns="created_at")
    frame = frame.merge(archs, on=["sweep", "arch_id"], how="left").merge(acc, on=["sweep", "arch_id"], how="left")
    frame = frame.merge(parts, on=timing_keys, how="left")
    text = {"det_status", "det_error", "nms_placement", "nms_settings", "det_per_image"}
    for column in (c for c in DETECTION_COLUMNS[:-1] if c not in text):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")  # an all-NULL column would stay object
    frame["nms_share"] = (frame["det_nms_ms"] / frame["det_e2e_ms"]).where(frame["det_e2e_ms"] > 0)
    return frame


def _query_frame(store: Store, sql: str, marks: str, sweeps: list[str], columns: list[str]) -> pd.DataFrame:
    rows = store.query(sql.format(marks=marks), tuple(sweeps))
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


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
