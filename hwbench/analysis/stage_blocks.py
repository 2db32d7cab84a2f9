"""Which block each stage position prefers: in a hybrid space (the block chosen per stage), the share of the front's
networks that have block B in stage s, beside the share among all its networks (what sampling alone gives).

The front is the hybrid group's own Pareto front on a target (no other network is faster at its quality or
better at its latency). The figures are counts, descriptive: a front of a 20-network space holds a handful of
networks, so a share is read with its count (k of the front's N) and against the base share.
"""

from __future__ import annotations

import json

import pandas as pd

from hwbench.analysis.pareto import pareto_mask

STAGE_COLUMNS = [
    "target",
    "group",
    "stage",
    "block",
    "networks",
    "with_block",
    "base_share",
    "front_size",
    "front_with_block",
    "front_share",
]
SEPARATOR = "|"  # between the stages' blocks in the results table's `stage_blocks` column


def stage_blocks(spec_json: str) -> str:
    """'mbconv|fused_mbconv|...' for a hybrid network's stages, "" for a network of one block."""
    spec = json.loads(spec_json)
    if spec.get("block") != "hybrid":
        return ""
    return SEPARATOR.join(str(stage.get("params", {}).get("block", "")) for stage in spec.get("stages", []))


def add_stage_blocks(frame: pd.DataFrame, store, sweeps: list[str]) -> pd.DataFrame:
    """The results frame with `stage_blocks` (hybrid networks only; "" elsewhere)."""
    marks = ",".join("?" for _ in sweeps)
    rows = store.query(
        "SELECT DISTINCT a.arch_id, a.spec_json FROM sweep_archs sa JOIN archs a ON a.arch_id = sa.arch_id "
        f"WHERE sa.sweep IN ({marks}) AND a.block = 'hybrid'",
        tuple(sweeps),
    )
    found = {r["arch_id"]: stage_blocks(r["spec_json"]) for r in rows}
    return frame.assign(stage_blocks=[found.get(a, "") for a in frame["arch_id"]])


def stage_preference(data: pd.DataFrame, quality: str, cost: str = "median_ms") -> pd.DataFrame:
    """Per target, hybrid group, stage and block: its share among the group's networks and on the group's front.

    data: usable results with `group`, `stage_blocks`, the cost and the quality column (rows without a quality
    value are left out, as from every front).
    """
    if "stage_blocks" not in data or quality not in data:
        return pd.DataFrame(columns=STAGE_COLUMNS)
    hybrid = data[data["stage_blocks"].fillna("").astype(str) != ""]
    hybrid = hybrid[pd.to_numeric(hybrid[quality], errors="coerce").notna()]
    rows = []
    for (target, group), part in hybrid.groupby(["target", "group"], sort=True):
        on_front = pareto_mask(part[cost].to_numpy(dtype=float), part[quality].to_numpy(dtype=float))
        stages = part["stage_blocks"].str.split(SEPARATOR, expand=True)
        front = stages[on_front]
        for s in stages.columns:
            for block in sorted(stages[s].dropna().unique()):
                k, k_front = int((stages[s] == block).sum()), int((front[s] == block).sum())
                rows.append(
                    {
                        "target": target,
                        "group": group,
                        "stage": int(s) + 1,
                        "block": block,
                        "networks": len(part),
                        "with_block": k,
                        "base_share": k / len(part),
                        "front_size": int(on_front.sum()),
                        "front_with_block": k_front,
                        "front_share": k_front / max(int(on_front.sum()), 1),
                    }
                )
    return pd.DataFrame(rows, columns=STAGE_COLUMNS)


def preference_sentences(table: pd.DataFrame) -> list[str]:
    """Per target and hybrid group: the block most of each stage's front networks use, in words."""
    out = []
    for (target, group), part in table.groupby(["target", "group"], sort=True):
        size = int(part["front_size"].iloc[0])
        parts = []
        for stage, rows in part.groupby("stage", sort=True):
            best = rows.sort_values(["front_with_block", "block"], ascending=[False, True]).iloc[0]
            tie = (rows["front_with_block"] == best["front_with_block"]).sum() > 1
            pick = "no single block" if tie else str(best["block"])
            parts.append(
                f"stage {stage}: {pick} ({int(best['front_with_block'])} of {size}; "
                f"{100 * best['base_share']:.0f}% of all {int(best['networks'])})"
                if not tie
                else f"stage {stage}: {pick} (tied at {int(best['front_with_block'])} of {size})"
            )
        out.append(f"On {target}, the {group} front's {size} network(s) use " + "; ".join(parts) + ".")
    return out
