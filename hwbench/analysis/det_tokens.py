"""Pruning ViT detectors in the results table: per-image speed-ups over their dense counterparts.

A pruning detector (det_vit_prune) and its dense counterpart (det_vit, same seed: the same backbone and head) are
timed in parts with trained weights on the same test images in the same order (hwbench.pipeline.det_timing), so
their per-image lists pair image by image: the speed-up of an image is dense / pruned on that image.

The two are timed in separate windows, each between two runs of the target's canary. The canary ratio pruned/dense
says whether the machine ran at another speed in the pruned detector's window (hwbench.measure.machine_speed); the
canary-normalised speed-up beside the raw one is derived and assumes the shift slowed both detectors as much as the
canary (docs/dense-token-pruning.md). The raw speed-ups are never replaced.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from hwbench.measure.machine_speed import block_canary, shift_tolerance, speed_differs
from hwbench.store import Store

DET_TOKEN_COLUMNS = [
    "pruning_knobs",
    "dense_arch_id",
    "det_graph_speedup_p10",
    "det_graph_speedup_median",
    "det_graph_speedup_p90",
    "det_backbone_speedup_p10",
    "det_backbone_speedup_median",
    "det_backbone_speedup_p90",
    "det_e2e_speedup_p10",
    "det_e2e_speedup_median",
    "det_e2e_speedup_p90",
    "det_images_slower",
    "slower_than_dense",
    "det_speed_shift",
    "det_speed_differs",
    "det_e2e_speedup_median_canary_norm",
]
FLOAT_COLUMNS = ("det_speed_shift", "det_e2e_speedup_median_canary_norm")


def add_det_token_columns(frame: pd.DataFrame, store: Store) -> pd.DataFrame:
    """Fill DET_TOKEN_COLUMNS for pruning ViT detectors (rows of family det_vit with a pruning block).

    `det_backbone_speedup_*` (the backbone alone, image → token map; any measured target), `det_graph_speedup_*`
    (graph: backbone + head + decoding) and `det_e2e_speedup_*` (graph + NMS): p10, median,
    p90 over images of dense / pruned per image, where the same sweep timed the dense counterpart on the same
    target; `det_images_slower`: images whose end-to-end speed-up is below 1; `slower_than_dense`: the median
    end-to-end speed-up is below 1 (as for the classification ViTs). `det_speed_shift`: the canary ratio
    pruned/dense of the two timing records (NaN where either has no canary, or their canaries differ in kind);
    `det_speed_differs`: that ratio is beyond the canaries' noise; `det_e2e_speedup_median_canary_norm`: the median
    of dense_ms/canary_dense ÷ pruned_ms/canary_pruned per image (derived; NaN without the ratio).
    """
    if "family" not in frame or not (frame["family"] == "det_vit").any() or "det_per_image" not in frame:
        return frame
    frame = frame.copy()
    for column in DET_TOKEN_COLUMNS:
        if column not in frame:
            frame[column] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for column in FLOAT_COLUMNS:  # NaN, not None: unknown where no pair of canaries says
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    rows = frame["family"] == "det_vit"
    specs = _specs(store, frame.loc[rows, "arch_id"].unique().tolist())
    pruned = rows & (frame["block"] != "vit")
    frame.loc[pruned, "dense_arch_id"] = frame.loc[pruned, "arch_id"].map(lambda a: _dense_id(specs[a]))
    frame.loc[pruned, "pruning_knobs"] = frame.loc[pruned, "arch_id"].map(lambda a: knobs_text(specs[a]))
    lists = {
        (r.sweep, r.arch_id, r.target): json.loads(r.det_per_image)
        for r in frame[rows & frame["det_per_image"].notna()].itertuples()
    }
    canaries: dict[tuple[str, str, str], dict[str, Any] | None] = {}
    for k, (backbone, canary) in _record_info(store, frame.loc[rows, "sweep"].unique().tolist()).items():
        canaries[k] = canary
        if k in lists and backbone is not None:
            lists[k]["backbone_ms"] = backbone
    frame.loc[pruned, "det_speed_differs"] = False  # unknown (no canaries) reads as not shown to differ
    for i in frame.index[pruned]:
        row = frame.loc[i]
        own = lists.get((row["sweep"], row["arch_id"], row["target"]))
        dense = lists.get((row["sweep"], row["dense_arch_id"], row["target"]))
        if own is None or dense is None:
            continue
        shift, differs = speed_shift(
            canaries.get((row["sweep"], row["dense_arch_id"], row["target"])),
            canaries.get((row["sweep"], row["arch_id"], row["target"])),
        )
        frame.at[i, "det_speed_shift"] = shift
        frame.at[i, "det_speed_differs"] = differs
        for part in ("backbone", "graph", "e2e"):
            ratio = _ratios(dense.get(f"{part}_ms"), own.get(f"{part}_ms"))
            if ratio.size:
                p10, median, p90 = (float(v) for v in np.percentile(ratio, [10, 50, 90]))
                frame.at[i, f"det_{part}_speedup_p10"] = p10
                frame.at[i, f"det_{part}_speedup_median"] = median
                frame.at[i, f"det_{part}_speedup_p90"] = p90
                if part == "e2e":
                    frame.at[i, "det_images_slower"] = int((ratio < 1).sum())
                    frame.at[i, "slower_than_dense"] = bool(median < 1)
                    if np.isfinite(shift):  # the canary correction is one factor: it scales every image alike
                        frame.at[i, "det_e2e_speedup_median_canary_norm"] = float(np.percentile(ratio * shift, 50))
    return frame


def speed_shift(dense: dict[str, Any] | None, pruned: dict[str, Any] | None) -> tuple[float, bool]:
    """(canary ratio pruned/dense, whether the machine ran at another speed) of two timing records' canaries.

    Each record's canary is the median of its before/after timings; with only those 2 timings the tolerance uses
    machine_speed's default spread, so only a large shift (about 20%) is beyond it. NaN, False without a canary of
    the same kind on both sides."""
    a, b = block_canary([(dense, False)]), block_canary([(pruned, False)])
    if a is None or b is None or a["kind"] != b["kind"]:  # different canaries measure different things
        return float("nan"), False
    ratio = b["median_ms"] / a["median_ms"]
    return ratio, speed_differs(ratio, shift_tolerance(a["n"], a["rel_sd"], b["n"], b["rel_sd"]))


def _record_info(store: Store, sweeps: list[str]) -> dict[tuple[str, str, str], tuple[list | None, dict | None]]:
    """Per (sweep, arch, target): its timing record's backbone-only per-image medians and its canary (before/after
    the timed window), each None where the record has none (older agents and stores)."""
    if not sweeps:
        return {}
    rows = store.query(
        "SELECT l.sweep, l.arch_id, l.target, json_extract(d.info_json, '$.backbone.image_median_ms') AS ms, "
        "json_extract(d.info_json, '$.canary') AS canary "
        "FROM sweep_detection_timings l JOIN detection_timings d ON d.timing_key = l.timing_key "
        f"WHERE l.sweep IN ({','.join('?' for _ in sweeps)})",
        tuple(sweeps),
    )
    out = {}
    for r in rows:
        parsed = json.loads(r["canary"]) if r["canary"] else None
        out[(r["sweep"], r["arch_id"], r["target"])] = (
            json.loads(r["ms"]) if r["ms"] else None,
            parsed if isinstance(parsed, dict) else None,
        )
    return out


def _ratios(dense: list | None, own: list | None) -> np.ndarray:
    """dense / own per image over the images both timed (None entries skipped)."""
    if not dense or not own:
        return np.empty(0)
    pairs = [(float(d), float(o)) for d, o in zip(dense, own) if d is not None and o is not None and o > 0]
    return np.asarray([d / o for d, o in pairs])


def knobs_text(spec: Any) -> str:
    """A token-reducing detector's knobs in words: keep 0.7, reactivate, keep pruned, dynamic rate, calibrated
    threshold (det_vit_prune); ToMe r 4, constant schedule (det_vit_tome); LTMP FLOPs 0.65, learned thresholds
    (det_vit_ltmp)."""
    p, k = spec.arch.backbone.params, spec.arch.pruning
    if spec.block == "vit_ltmp":  # thresholds trained for a FLOPs budget (hwbench.accuracy.detection.ltmp_phase)
        return f"LTMP FLOPs {p.get('flops_target', 0.75):g}, learned thresholds"
    if k is None:  # a merging detector (det_vit_tome) has no selector knobs
        return f"ToMe r {p.get('r', 8)}, {p.get('schedule', 'constant')} schedule"
    return (
        f"keep {p['keep_ratio']:g}, {'reactivate' if k.reactivate else 'no reactivation'}, "
        f"{'keep pruned' if k.keep_pruned else 'discard'}, {k.rate} rate, {k.threshold} threshold"
    )


def _dense_id(spec: Any) -> str:
    from hwbench.space.det_vit import dense_detector

    return str(dense_detector(spec).arch_id)


def _specs(store: Store, arch_ids: list[str]) -> dict[str, Any]:
    from hwbench.space.archspec import ArchSpec

    if not arch_ids:
        return {}
    rows = store.query(
        f"SELECT arch_id, spec_json FROM archs WHERE arch_id IN ({','.join('?' for _ in arch_ids)})", tuple(arch_ids)
    )
    return {r["arch_id"]: ArchSpec.from_json(r["spec_json"]) for r in rows}
