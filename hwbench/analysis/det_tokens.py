"""Pruning ViT detectors in the results table: per-image speed-ups over their dense counterparts.

A pruning detector (det_vit_prune) and its dense counterpart (det_vit, same seed: the same backbone and head) are
timed in parts with trained weights on the same test images in the same order (hwbench.pipeline.det_timing), so
their per-image lists pair image by image: the speed-up of an image is dense / pruned on that image.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

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
]


def add_det_token_columns(frame: pd.DataFrame, store: Store) -> pd.DataFrame:
    """Fill DET_TOKEN_COLUMNS for pruning ViT detectors (rows of family det_vit with a pruning block).

    `det_backbone_speedup_*` (the backbone alone, image → token map; any measured target), `det_graph_speedup_*`
    (graph: backbone + head + decoding) and `det_e2e_speedup_*` (graph + NMS): p10, median,
    p90 over images of dense / pruned per image, where the same sweep timed the dense counterpart on the same
    target; `det_images_slower`: images whose end-to-end speed-up is below 1; `slower_than_dense`: the median
    end-to-end speed-up is below 1 (as for the classification ViTs).
    """
    if "family" not in frame or not (frame["family"] == "det_vit").any() or "det_per_image" not in frame:
        return frame
    frame = frame.copy()
    for column in DET_TOKEN_COLUMNS:
        if column not in frame:
            frame[column] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    rows = frame["family"] == "det_vit"
    specs = _specs(store, frame.loc[rows, "arch_id"].unique().tolist())
    pruned = rows & (frame["block"] != "vit")
    frame.loc[pruned, "dense_arch_id"] = frame.loc[pruned, "arch_id"].map(lambda a: _dense_id(specs[a]))
    frame.loc[pruned, "pruning_knobs"] = frame.loc[pruned, "arch_id"].map(lambda a: knobs_text(specs[a]))
    lists = {
        (r.sweep, r.arch_id, r.target): json.loads(r.det_per_image)
        for r in frame[rows & frame["det_per_image"].notna()].itertuples()
    }
    for k, backbone in _backbone_lists(store, frame.loc[rows, "sweep"].unique().tolist()).items():
        if k in lists:
            lists[k]["backbone_ms"] = backbone
    for i in frame.index[pruned]:
        row = frame.loc[i]
        own = lists.get((row["sweep"], row["arch_id"], row["target"]))
        dense = lists.get((row["sweep"], row["dense_arch_id"], row["target"]))
        if own is None or dense is None:
            continue
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
    return frame


def _backbone_lists(store: Store, sweeps: list[str]) -> dict[tuple[str, str, str], list]:
    """Per (sweep, arch, target): the backbone-only per-image medians of its timing record, where it has them."""
    if not sweeps:
        return {}
    rows = store.query(
        "SELECT l.sweep, l.arch_id, l.target, json_extract(d.info_json, '$.backbone.image_median_ms') AS ms "
        "FROM sweep_detection_timings l JOIN detection_timings d ON d.timing_key = l.timing_key "
        f"WHERE l.sweep IN ({','.join('?' for _ in sweeps)})",
        tuple(sweeps),
    )
    return {(r["sweep"], r["arch_id"], r["target"]): json.loads(r["ms"]) for r in rows if r["ms"]}


def _ratios(dense: list | None, own: list | None) -> np.ndarray:
    """dense / own per image over the images both timed (None entries skipped)."""
    if not dense or not own:
        return np.empty(0)
    pairs = [(float(d), float(o)) for d, o in zip(dense, own) if d is not None and o is not None and o > 0]
    return np.asarray([d / o for d, o in pairs])


def knobs_text(spec: Any) -> str:
    """A pruning detector's knobs in words: keep 0.7, reactivate, keep pruned, dynamic rate, calibrated threshold."""
    p, k = spec.arch.backbone.params, spec.arch.pruning
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
