"""The report's detection section: latency in parts (graph, NMS, end to end) per block and target, with figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hwbench.report.tables import mega, num, pct, render, text

# Per-image lists each timing record keeps (det_per_image in the results table), as columns of detection_images.csv.
IMAGE_LISTS = ("graph_ms", "nms_ms", "e2e_ms", "above_threshold", "kept")
IMAGE_COLUMNS = ["sweep", "target", "group", "arch_id", "image", *IMAGE_LISTS]


def has_detection(results: pd.DataFrame) -> bool:
    """True when the results hold detectors with a mAP or latency in parts."""
    return any(c in results and results[c].notna().any() for c in ("map", "det_e2e_ms", "det_graph_ms"))


def per_image(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (network, target, timed image): its graph / NMS / end-to-end medians and box counts."""
    if "det_per_image" not in results or results["det_per_image"].isna().all():
        return pd.DataFrame(columns=IMAGE_COLUMNS)
    has = results[results["det_per_image"].notna()].drop_duplicates(["arch_id", "target"], keep="last")
    frames = []
    for r in has.itertuples(index=False):
        lists = json.loads(r.det_per_image)
        count = max((len(lists[k]) for k in IMAGE_LISTS if lists.get(k)), default=0)
        columns = {k: _padded(lists.get(k), count) for k in IMAGE_LISTS}
        keys = {"sweep": r.sweep, "target": r.target, "group": r.group, "arch_id": r.arch_id}
        frames.append(pd.DataFrame({**keys, "image": np.arange(count), **columns}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=IMAGE_COLUMNS)


def _padded(values: list | None, count: int) -> np.ndarray:
    """A per-image list as floats (NaN for None, or for every image when the record has no such list)."""
    out = np.full(count, np.nan)
    for i, v in enumerate((values or [])[:count]):
        out[i] = np.nan if v is None else float(v)
    return out


def block_table(part: pd.DataFrame) -> pd.DataFrame:
    """Per block on one target: networks, median mAP, the median width of the mAPs' bootstrap intervals, the median
    mAP of the exported artifacts, and medians over networks of the latency parts and counts."""
    rows = []
    for group, block in part.groupby("group", sort=True):
        timed = block[block["det_status"] == "ok"] if "det_status" in block else block.iloc[:0]
        rows.append(
            {
                "group": group,
                "networks": block["arch_id"].nunique(),
                "with_map": int(block["map"].notna().sum()),
                "timed": len(timed),
                "map_median": block["map"].median(),
                "map_ci_width_median": (block["map_ci_high"] - block["map_ci_low"]).median(),
                "artifact_map_median": block["artifact_map"].median(),
                "head_macs_median": block["head_macs"].median(),
                "boxes_median": block["boxes"].median(),
                "graph_protocol_ms": block.loc[block["status"] == "ok", "median_ms"].median(),
                **{f"{c}_median": timed[c].median() for c in _PARTS},
            }
        )
    return pd.DataFrame(rows)


_PARTS = ("det_graph_ms", "det_nms_ms", "det_e2e_ms", "nms_share", "boxes_above", "boxes_kept")


def count(v: Any) -> str:
    """A box count: whole numbers with separators, halves kept (a median of an even number of images)."""
    return f"{v:,.1f}".removesuffix(".0") if isinstance(v, (int, float, np.number)) and np.isfinite(v) else "–"


def settings_text(settings: Any) -> str:
    """NMS settings of a timing record in words: score ≥ 0.05, IoU 0.5, top-k 1000, at most 100 kept."""
    try:
        s = json.loads(settings)
    except (TypeError, ValueError):
        return "–"
    return (
        f"score ≥ {s.get('score_threshold')}, IoU {s.get('iou_threshold')}, top-{s.get('pre_nms_top_k')} "
        f"before NMS, at most {s.get('max_detections')} kept"
    )


def detection_sections(results: pd.DataFrame, outdir: Path, colors: dict[str, tuple]) -> list[dict[str, Any]]:
    """Per target with detectors: the block table, the two figures, the NMS settings and what was not timed."""
    from hwbench.analysis.reference import reference_mask
    from hwbench.analysis.table import DETECTION_COLUMNS
    from hwbench.report.det_tokens import pruning_table
    from hwbench.report.fig_detection import det_fronts_figure, nms_figure
    from hwbench.report.plots import save, slug

    if not has_detection(results):
        return []
    # a hand-made results table may carry only some detection columns (e.g. mAP before any timing in parts)
    results = results.reindex(columns=list(dict.fromkeys([*results.columns, *DETECTION_COLUMNS])))
    images = per_image(results)
    sections = []
    for target in sorted(results["target"].unique()):
        everything = results[results["target"] == target].drop_duplicates("arch_id", keep="last")
        if not has_detection(everything):
            continue
        # A reference detector belongs to no block: its own row and a labelled star, never in a block's figures.
        is_ref = reference_mask(everything)
        part, refs = everything[~is_ref], everything[is_ref]
        figures = [
            save(det_fronts_figure(part, target, colors, refs), f"det_fronts_{slug(target)}", outdir),
            save(nms_figure(images[images["target"] == target], target, colors), f"det_nms_{slug(target)}", outdir),
        ]
        table = _render(part, refs) + pruning_table(part)  # pruning ViT detectors beside their dense counterparts
        sections.append({"target": target, "figures": figures, **_section_text(part), "table": table})
    return sections


def _section_text(part: pd.DataFrame) -> dict[str, Any]:
    """Images, placements and NMS settings used on this target, and the detectors without latency in parts."""
    timed = part[part["det_status"] == "ok"]
    failed = part[part["det_status"].notna() & (part["det_status"] != "ok")]
    untimed = part[part["det_status"].isna()]
    return {
        "images": int(timed["det_images"].max()) if timed["det_images"].notna().any() else 0,
        "placements": sorted(timed["nms_placement"].dropna().unique()),
        "settings": sorted({settings_text(s) for s in timed["nms_settings"].dropna()}),
        "untimed": len(untimed),
        "failed": [{"arch_id": r.arch_id, "error": text(r.det_error)} for r in failed.itertuples()],
    }


def _render(part: pd.DataFrame, refs: pd.DataFrame) -> str:
    """The per-block table as HTML, then one row per reference detector."""
    rows = block_table(part)
    if not refs.empty:
        own = refs.assign(group=[f"reference: {r}" for r in refs["reference"]])
        rows = pd.concat([rows, block_table(own)], ignore_index=True)
    return render(
        rows,
        {
            "group": ("block", text),
            "networks": ("networks", text),
            "timed": ("timed in parts", text),
            "map_median": ("median mAP", pct),
            "map_ci_width_median": ("median width of its 95% CI", pct),
            "artifact_map_median": ("median artifact mAP", pct),
            "head_macs_median": ("head MACs", mega),
            "graph_protocol_ms": ("graph ms (protocol)", num),
            "det_graph_ms_median": ("graph ms", num),
            "det_nms_ms_median": ("NMS ms", num),
            "det_e2e_ms_median": ("end-to-end ms", num),
            "nms_share_median": ("NMS share of end to end", pct),
            "boxes_median": ("candidate boxes", count),
            "boxes_above_median": ("above threshold", count),
            "boxes_kept_median": ("kept", count),
        },
    )
