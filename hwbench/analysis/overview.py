"""Per target and block: how many networks, how many measured, failed or disturbed, and their latency range."""

from __future__ import annotations

import pandas as pd

from hwbench.analysis.noisy import disturbed_mask

OVERVIEW_COLUMNS = [
    "target",
    "group",
    "networks",
    "measured",
    "failed",
    "pending",
    "with_accuracy",
    "disturbed",
    "median_ms_min",
    "median_ms_median",
    "median_ms_max",
    "ms_per_gmac",
]


def block_overview(frame: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    """Counts from every result (frame) and latency figures from the usable ones (data)."""
    if frame.empty:
        return pd.DataFrame(columns=OVERVIEW_COLUMNS)
    counts = (
        frame.assign(
            failed=frame["status"].str.endswith("error"),
            pending=frame["status"].eq("pending"),
        )
        .groupby(["target", "group"], sort=True)
        .agg(networks=("arch_id", "nunique"), failed=("failed", "sum"), pending=("pending", "sum"))
    )
    disturbed = disturbed_mask(data).astype(int)
    ok = data.assign(ms_per_gmac=data["median_ms"] / (data["macs"] / 1e9), disturbed=disturbed)
    if "map" in ok and "top1" in ok:  # detectors are scored by mAP, classifiers by top-1
        ok = ok.assign(top1=ok["top1"].where(ok["top1"].notna(), ok["map"]))
    lat = ok.groupby(["target", "group"], sort=True).agg(
        measured=("arch_id", "nunique"),
        with_accuracy=("top1", "count") if "top1" in ok else ("arch_id", "size"),
        disturbed=("disturbed", "sum"),
        median_ms_min=("median_ms", "min"),
        median_ms_median=("median_ms", "median"),
        median_ms_max=("median_ms", "max"),
        ms_per_gmac=("ms_per_gmac", "median"),
    )
    if "top1" not in ok:
        lat["with_accuracy"] = 0
    table = counts.join(lat, how="left").reset_index()
    counts = ["measured", "with_accuracy", "disturbed"]
    table[counts] = table[counts].fillna(0).astype(int)
    return table.reindex(columns=OVERVIEW_COLUMNS)
