"""The report's anchor-pruning section: per searched detector, the search's front, per target the measured points
(pruned by surgery, retrained) against the unpruned detector with the predicted latency beside the measured one,
the anchors that survive in the configuration to take, and what it saves at equal mAP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from hwbench.analysis.pruning import EQUAL_MAP, SearchTables, anchor_set_text, recommendation, searches_of
from hwbench.report.plots import save, slug
from hwbench.report.tables import num, pct, render, text
from hwbench.store import Store

VARIANTS = {"pruned": ("pruned by surgery (not retrained)", "o"), "retrained": ("pruned and retrained", "s")}
COST_LABELS = {"macs": "head MACs (M)", "boxes": "boxes per image"}


def pruning_sections(store: Store, sweeps: list[str], outdir: Path) -> list[dict[str, Any]]:
    """One section per search of the sweeps' detectors (none when nothing was pruned); CSV tables beside."""
    found = searches_of(store, sweeps)
    sections = []
    for tables in found:
        key = tables.search["search_key"][:8]
        tables.nodes.to_csv(outdir / f"anchor_nodes_{key}.csv", index=False)
        if not tables.measured.empty:
            tables.measured.drop(columns=["prov_id"], errors="ignore").to_csv(
                outdir / f"anchor_measurements_{key}.csv", index=False
            )
        figures = [save(search_figure(tables), f"anchors_search_{key}", outdir)]
        targets = []
        for target in sorted(set(tables.measured["target"])) if not tables.measured.empty else []:
            figures.append(save(measured_figure(tables, target), f"anchors_{key}_{slug(target)}", outdir))
            targets.append(_target_facts(tables, target))
        sections.append({**_facts(tables), "figures": figures, "targets": targets})
    return sections


def _facts(tables: SearchTables) -> dict[str, Any]:
    s = tables.search
    info = json.loads(s["info_json"] or "{}")
    cost = info.get("cost", {})
    return {
        "id": s["search_key"][:8],
        "sweep": s["sweep"],
        "arch_id": s["arch_id"],
        "strategy": s["strategy"],
        "cost": s["cost"] + (" (predicted)" if cost.get("kind") == "predicted" else ""),
        "min_map": 100 * float(s["min_map"]),
        "scored": len(tables.nodes),
        "front": int(tables.nodes["on_front"].sum()),
        "exhausted": bool(s["exhausted"]),
        "images": info.get("cache", {}).get("images"),
        "unpruned_map": 100 * tables.unpruned_map,
        "anchors": len(tables.anchors),
    }


def _target_facts(tables: SearchTables, target: str) -> dict[str, Any]:
    """The measured table, the recommendation and its anchor map on one target."""
    m = tables.measured
    part = m[m["target"] == target].copy()
    nodes = tables.nodes.set_index("removed")
    part["anchor_set"] = [anchor_set_text(tables.anchors, json.loads(r)) for r in part["removed"]]
    part["boxes"] = [nodes.loc[r, "boxes"] for r in part["removed"]]
    part["head_macs"] = [nodes.loc[r, "head_macs"] for r in part["removed"]]
    part = part.sort_values(["variant", "boxes"], ascending=[True, False])
    columns = {
        "variant": ("variant", text),
        "anchor_set": ("anchor set", text),
        "map": ("mAP", pct),
        "artifact_map": ("artifact mAP", pct),
        "boxes": ("boxes", lambda v: f"{v:.0f}"),
        "head_macs": ("head MACs", lambda v: f"{v / 1e6:.3g} M"),
        "graph_ms": ("graph ms", num),
        "nms_ms": ("NMS ms", num),
        "e2e_ms": ("e2e ms", num),
        "predicted_e2e_ms": ("e2e ms (predicted)", num),
    }
    rec = recommendation(tables, target)
    return {
        "target": target,
        "table": render(part, columns),
        "recommendation": rec,
        "anchor_map": _anchor_map(tables, rec["removed"] if rec and rec.get("removed") is not None else None),
    }


def _anchor_map(tables: SearchTables, removed: list[int] | None) -> str | None:
    """An HTML grid: levels × anchor shapes, ● kept, ○ removed, blank where the level never had the shape."""
    if removed is None:
        return None
    shapes = list(dict.fromkeys((a.scale, a.ratio) for a in tables.anchors))
    levels = sorted({a.level for a in tables.anchors} | set(range(max(a.level for a in tables.anchors) + 1)))
    grid = {(a.level, (a.scale, a.ratio)): ("○" if a.index in set(removed) else "●") for a in tables.anchors}
    head = "".join(f"<th>s{s:.3g} r{r:.3g}</th>" for s, r in shapes)
    body = "".join(
        f"<tr><td>L{lv}</td>" + "".join(f"<td>{grid.get((lv, sh), '')}</td>" for sh in shapes) + "</tr>"
        for lv in levels
    )
    return f"<table><thead><tr><th>level</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def search_figure(tables: SearchTables) -> Figure:
    """Every scored anchor set: mAP against the search's cost (grey), the front (line), the unpruned detector (star)."""
    cost = tables.search["cost"]
    column = "head_macs" if cost == "macs" else "boxes"
    label = COST_LABELS.get(cost, "head MACs (M)")
    nodes = tables.nodes
    scale = 1e6 if column == "head_macs" else 1.0
    fig, ax = plt.subplots(figsize=(5.2, 3.8), constrained_layout=True)
    ax.scatter(nodes[column] / scale, 100 * nodes["map"], s=10, color="0.6", alpha=0.6, label="scored anchor sets")
    front = nodes[nodes["on_front"]].sort_values(column)
    ax.step(front[column] / scale, 100 * front["map"], where="post", color="C0", lw=1.6, label="front")
    ax.plot(front[column] / scale, 100 * front["map"], "o", ms=5, mfc="none", mec="C0")
    root = nodes[nodes["removed"] == "[]"].iloc[0]
    ax.plot([root[column] / scale], [100 * root["map"]], "*", ms=12, color="k", label="unpruned")
    ax.axhline(100 * (tables.unpruned_map - EQUAL_MAP), color="0.3", lw=0.8, ls=":", label="equal mAP (−0.5 AP)")
    ax.set_xlabel(label if column == "head_macs" else "boxes per image")
    ax.set_ylabel("mAP@[.5:.95] (%)")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def measured_figure(tables: SearchTables, target: str) -> Figure:
    """mAP against measured end-to-end latency on one target: the unpruned detector, the pruned points by variant,
    and the pruned points' predicted latency (hollow, labelled predicted)."""
    m = tables.measured
    part = m[(m["target"] == target) & (m["status"] == "ok")]
    fig, ax = plt.subplots(figsize=(5.2, 3.8), constrained_layout=True)
    for variant, (label, marker) in VARIANTS.items():
        rows = part[(part["variant"] == variant) & (part["removed"] != "[]")].sort_values("e2e_ms")
        if rows.empty:
            continue
        ax.plot(rows["e2e_ms"], 100 * rows["map"], marker, ms=6, ls="-", lw=1, label=f"{label}, measured")
        if variant == "pruned" and rows["predicted_e2e_ms"].notna().any():
            ax.plot(
                rows["predicted_e2e_ms"],
                100 * rows["map"],
                marker,
                ms=6,
                mfc="none",
                ls="none",
                color="0.4",
                label="pruned, predicted (modelled)",
            )
    base = part[(part["removed"] == "[]") & (part["variant"] == "pruned")]
    if not base.empty:
        ax.plot(base["e2e_ms"], 100 * base["map"], "*", ms=12, color="k", label="unpruned, measured")
    ax.set_xlabel(f"end-to-end ms on {target} (graph + NMS)")
    ax.set_ylabel("mAP@[.5:.95] (%)")
    ax.legend(fontsize=7, loc="lower right")
    return fig
