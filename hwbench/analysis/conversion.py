"""What conversion did to each block on each target: delegated and fallback operators, integer-only graphs,
agreement of the quantised artifact with the float model. Columns appear only when the store carries them."""

from __future__ import annotations

import pandas as pd

# column → how a block's networks are summarised (median of numbers, or share of true flags)
CONVERSION_COLUMNS = {
    "delegated_ops": "median",
    "fallback_ops": "median",
    "fully_integer": "share",
    "int8_top1_agreement": "median",
    "int8_cosine": "median",
    "artifact_top1": "median",
}


def conversion_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per target and block: exported networks and the summary of each conversion column present (empty if none)."""
    present = [c for c in CONVERSION_COLUMNS if c in frame and frame[c].notna().any()]
    exported = frame[frame["export_status"] == "ok"] if "export_status" in frame else frame
    if not present or exported.empty:
        return pd.DataFrame()
    rows = []
    for (target, group), part in exported.groupby(["target", "group"], sort=True):
        row = {"target": target, "group": group, "exported": len(part)}
        for column in present:
            values = part[column].dropna()
            if CONVERSION_COLUMNS[column] == "share":
                row[f"{column}_share"] = values.astype(bool).mean() if len(values) else float("nan")
            else:
                row[f"{column}_median"] = pd.to_numeric(values, errors="coerce").median()
        if "artifact_top1" in present and "top1" in part:
            row["artifact_top1_drop_median"] = (part["top1"] - part["artifact_top1"]).median()
        rows.append(row)
    return pd.DataFrame(rows)


def failure_notes(frame: pd.DataFrame) -> list[str]:
    """Per target with failures: how many failed per block and how the failed networks differ in size. Failures
    to convert or run are not missing at random (large or unusual networks fail more often), so a block's front
    there describes only the networks that ran; cross-target figures use networks that ran on every target."""
    notes = []
    failed_all = frame["status"].str.endswith("error")
    for target, part in frame.groupby("target", sort=True):
        failed = failed_all[part.index]
        if not failed.any():
            continue
        counts = part.groupby("group", sort=True).agg(n=("arch_id", "size"))
        counts["failed"] = failed.groupby(part["group"]).sum()
        blocks = ", ".join(f"{g} {int(r.failed)}/{r.n}" for g, r in counts.iterrows() if r.failed)
        sizes = ""
        if "macs" in part and failed.sum() >= 1 and (~failed).sum() >= 1:
            bad, good = part.loc[failed, "macs"].median(), part.loc[~failed, "macs"].median()
            sizes = (
                f" The failed networks' median is {bad / 1e6:,.3g}M MACs against {good / 1e6:,.3g}M for those that ran."
            )
        notes.append(
            f"On {target}, {int(failed.sum())} of {len(part)} networks failed to convert or run ({blocks}).{sizes} "
            "Such failures are not missing at random: that target's fronts describe only the networks that ran, "
            "and the rank agreement across targets uses only networks that ran on every compared target."
        )
    return notes
