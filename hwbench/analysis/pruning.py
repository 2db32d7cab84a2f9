"""Anchor-pruning searches of a sweep as tables: every scored anchor set, the front, the measured points per target
and variant, and the configuration to take per target (the fastest measured point at equal mAP)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from hwbench.store import Store

EQUAL_MAP = 0.005  # "equal mAP": within 0.5 AP of the unpruned detector on the same images


@dataclass
class SearchTables:
    """One search: its record, its scored anchor sets (with `on_front`), and its measured points."""

    search: dict[str, Any]
    nodes: pd.DataFrame
    measured: pd.DataFrame
    anchors: list[Any]

    @property
    def unpruned_map(self) -> float:
        """The unpruned detector's mAP on the search's images."""
        return float(self.nodes.loc[self.nodes["removed"] == "[]", "map"].iloc[0])


def searches_of(store: Store, sweeps: list[str]) -> list[SearchTables]:
    """Every finished search on the sweeps' detectors, oldest first."""
    from hwbench.pruning.anchor_index import anchors_of
    from hwbench.space.archspec import ArchSpec
    from hwbench.store.pruning import measurements

    marks = ",".join("?" for _ in sweeps)
    found = []
    for s in store.query(
        f"SELECT * FROM anchor_searches WHERE sweep IN ({marks}) AND status='ok' ORDER BY created_at", tuple(sweeps)
    ):
        search = dict(s)
        front = {json.dumps(f) for f in json.loads(search["front_json"] or "[]")}
        visited = [json.dumps(v) for v in json.loads(search["visited_json"] or "[]")]
        rows = store.query("SELECT * FROM anchor_nodes WHERE eval_key=?", (search["eval_key"],))
        nodes = pd.DataFrame([dict(r) for r in rows if r["removed"] in set(visited)])
        if nodes.empty:
            continue
        nodes["on_front"] = nodes["removed"].isin(front)
        nodes["visit"] = nodes["removed"].map({r: i for i, r in enumerate(visited)})
        measured = pd.DataFrame([dict(r) for r in measurements(store, search["search_key"])])
        spec = store.query("SELECT spec_json FROM archs WHERE arch_id=?", (search["arch_id"],))[0]["spec_json"]
        anchors = anchors_of(ArchSpec.from_json(spec).arch)  # type: ignore[arg-type]
        found.append(SearchTables(search, nodes.sort_values("visit"), measured, anchors))
    return found


def recommendation(tables: SearchTables, target: str, tolerance: float = EQUAL_MAP) -> dict[str, Any] | None:
    """The measured pruned (surgery) point with the lowest end-to-end latency among those within `tolerance` of the
    unpruned detector's mAP on `target`, with what it saves against the unpruned detector timed in the same run;
    None when no pruned point was measured there."""
    m = tables.measured
    if m.empty:
        return None
    part = m[(m["target"] == target) & (m["variant"] == "pruned") & (m["status"] == "ok")]
    base = part[part["removed"] == "[]"]
    nodes = tables.nodes.set_index("removed")
    if base.empty:
        return None
    floor = tables.unpruned_map - tolerance
    equal = part[(part["removed"] != "[]") & (part["map"] >= floor)]
    root = nodes.loc["[]"]
    if equal.empty:
        return {"removed": None, "floor": floor}
    best = equal.loc[equal["e2e_ms"].idxmin()]
    node = nodes.loc[best["removed"]]
    return {
        "removed": json.loads(best["removed"]),
        "floor": floor,
        "map": float(best["map"]),
        "e2e_ms": float(best["e2e_ms"]),
        "e2e_saved": 1 - float(best["e2e_ms"]) / float(base["e2e_ms"].iloc[0]),
        "boxes_saved": 1 - float(node["boxes"]) / float(root["boxes"]),
        "head_macs_saved": 1 - float(node["head_macs"]) / float(root["head_macs"]),
        "anchors": int(node["anchors"]),
    }


def anchor_set_text(anchors: list[Any], removed: list[int]) -> str:
    """The shorter description of an anchor set: what it removes (−) or what it keeps (only), per level."""
    if not removed:
        return "all (the unpruned detector)"
    gone = set(removed)
    kept = [a for a in anchors if a.index not in gone]
    shown, word = ([a for a in anchors if a.index in gone], "−") if len(gone) <= len(kept) else (kept, "only")
    levels: dict[int, list[str]] = {}
    for a in shown:
        levels.setdefault(a.level, []).append(f"s{a.scale:.3g} r{a.ratio:.3g}")
    return f"{word} " + "; ".join(f"L{lv}: {', '.join(names)}" for lv, names in levels.items())
