"""Latencies and the machine's speed: each measurement's block canary (hwbench.measure.machine_speed), whether two
blocks ran at different speeds, and canary-normalised figures, always labelled as derived (docs/measurement.md).

A canary-normalised latency divides out the block's canary: it assumes the machine's shift between blocks slowed
every network by the same factor as the canary. It never replaces the measured latency.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from hwbench.measure.machine_speed import shift_tolerance, speed_differs

CANARY_COLUMNS = ["canary_kind", "canary_ms", "canary_n", "canary_rel_sd"]
NORM_LABEL = "canary-normalised (derived)"


def normalised_ratios(ms_a: np.ndarray, canary_a: np.ndarray, ms_b: np.ndarray, canary_b: np.ndarray) -> np.ndarray:
    """Per network: (B latency / B's block canary) / (A latency / A's block canary); NaN where a canary is missing."""
    ms_a, ms_b = np.asarray(ms_a, dtype=float), np.asarray(ms_b, dtype=float)
    canary_a, canary_b = np.asarray(canary_a, dtype=float), np.asarray(canary_b, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (ms_b / canary_b) / (ms_a / canary_a)
    return np.where(np.isfinite(ratio) & (ratio > 0), ratio, np.nan)


def normalised_summary(
    ms_a: np.ndarray, canary_a: np.ndarray, ms_b: np.ndarray, canary_b: np.ndarray
) -> dict[str, float | int]:
    """Median canary-normalised ratio B/A and median |Δ| over the networks with both canaries (derived figures)."""
    ratio = normalised_ratios(ms_a, canary_a, ms_b, canary_b)
    ratio = ratio[np.isfinite(ratio)]
    median, abs_delta = _medians(ratio)
    return {"median_ratio": median, "median_abs_delta": abs_delta, "networks": len(ratio)}


def _medians(ratio: np.ndarray) -> tuple[float, float]:
    """Median ratio and median |ratio − 1| (NaN, NaN for none)."""
    if not len(ratio):
        return float("nan"), float("nan")
    return float(np.median(ratio)), float(np.median(np.abs(ratio - 1.0)))


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[name], errors="coerce")


def pair_canaries(pairs: pd.DataFrame) -> pd.DataFrame:
    """Add, per (network, target) pair of two sweeps, the canary ratio B/A of the blocks that measured them, the
    tolerance of that ratio, whether the speeds differ, and the canary-normalised latency ratio (derived)."""
    out = pairs.copy()
    kind_a = out["canary_kind_a"] if "canary_kind_a" in out else pd.Series(None, index=out.index)
    kind_b = out["canary_kind_b"] if "canary_kind_b" in out else pd.Series(None, index=out.index)
    same = kind_a.notna() & (kind_a == kind_b)  # different canaries measure different things: no ratio
    can_a = _column(out, "canary_ms_a").where(same)
    can_b = _column(out, "canary_ms_b").where(same)
    out["canary_ratio"] = can_b / can_a
    n_a, n_b = _column(out, "canary_n_a"), _column(out, "canary_n_b")
    sd_a, sd_b = _column(out, "canary_rel_sd_a"), _column(out, "canary_rel_sd_b")
    out["canary_tolerance"] = [
        shift_tolerance(na, sa, nb, sb) if r == r else np.nan
        for na, sa, nb, sb, r in zip(n_a, sd_a, n_b, sd_b, out["canary_ratio"])
    ]
    out["canary_differs"] = [
        speed_differs(r, t) if r == r else None for r, t in zip(out["canary_ratio"], out["canary_tolerance"])
    ]
    out["ratio_canary_norm"] = out["ratio"] / out["canary_ratio"]
    return out


def canary_summary(group: pd.DataFrame) -> dict[str, object]:
    """One target's pairs (pair_canaries): canary ratio B/A, its tolerance, pairs whose speeds differ, and the
    canary-normalised median ratio and median |Δ| (derived) beside nothing else: the raw figures stay the caller's."""
    measured = group.dropna(subset=["ratio"])
    with_canary = measured.dropna(subset=["canary_ratio"])
    median, abs_delta = _medians(with_canary["ratio_canary_norm"].to_numpy(dtype=float))
    return {
        "canary_pairs": len(with_canary),
        "canary_ratio": float(with_canary["canary_ratio"].median()) if len(with_canary) else float("nan"),
        "canary_tolerance": float(with_canary["canary_tolerance"].median()) if len(with_canary) else float("nan"),
        "canary_differs": int(with_canary["canary_differs"].astype(bool).sum()),
        "median_ratio_canary_norm": median,
        "median_abs_delta_canary_norm": abs_delta,
    }


def _blocks(rows: pd.DataFrame) -> pd.DataFrame:
    """The distinct measurement blocks (canary figures) behind rows that have one, with how many rows each."""
    known = rows[rows["canary_ms"].notna()] if "canary_ms" in rows else rows.iloc[:0]
    if known.empty:
        return pd.DataFrame(columns=[*CANARY_COLUMNS, "rows"])
    keys = known[CANARY_COLUMNS].astype(object).where(known[CANARY_COLUMNS].notna(), None)
    return keys.value_counts(dropna=False).rename("rows").reset_index()


def add_canary_norm(frame: pd.DataFrame) -> pd.DataFrame:
    """Add `canary_ref_ms` and `median_ms_canary_norm` = median_ms × canary_ref_ms / canary_ms (derived).

    The reference is, per target and canary kind, the median block canary over the frame's distinct successful
    measurements, so a frame measured in one block keeps its latencies; NaN where a measurement has no canary."""
    frame = frame.copy()
    frame["canary_ref_ms"] = np.nan
    if "canary_ms" not in frame:
        frame["median_ms_canary_norm"] = np.nan
        return frame
    status_ok = frame["status"].eq("ok") if "status" in frame else pd.Series(True, index=frame.index)
    ok = frame[status_ok & _column(frame, "canary_ms").gt(0)]
    if "measure_key" in ok:
        ok = ok.drop_duplicates("measure_key")
    refs = ok.groupby(["target", "canary_kind"])["canary_ms"].median()
    for (target, kind), ref in refs.items():
        frame.loc[(frame["target"] == target) & (frame["canary_kind"] == kind), "canary_ref_ms"] = float(ref)
    frame["canary_ms"] = _column(frame, "canary_ms")
    frame["median_ms_canary_norm"] = _column(frame, "median_ms") * frame["canary_ref_ms"] / frame["canary_ms"]
    return frame


def mixed_speed_notes(data: pd.DataFrame) -> list[str]:
    """Per target: a note when the results come from blocks whose canaries differ beyond their noise (comparing
    their latencies mixes machine speeds), or when some results have no canary record to tell."""
    if "canary_ms" not in data or data.empty:
        return []
    notes = []
    for target, rows in data.groupby("target", sort=True):
        blocks = _blocks(rows)
        unknown = int(rows["canary_ms"].isna().sum())
        if unknown and len(blocks):
            notes.append(
                f"{unknown} of {len(rows)} results on target {target} were measured before blocks recorded their "
                "canary: the machine's speed behind them is unknown, so their latencies may not compare with the rest"
            )
        worst = None
        for (_, a), (_, b) in combinations(blocks.iterrows(), 2):
            if a["canary_kind"] != b["canary_kind"]:
                continue
            ratio = float(b["canary_ms"]) / float(a["canary_ms"])
            tol = shift_tolerance(a["canary_n"], a["canary_rel_sd"], b["canary_n"], b["canary_rel_sd"])
            gap = abs(np.log(ratio))
            if speed_differs(ratio, tol) and (worst is None or gap > worst[0]):
                worst = (gap, tol)
        if worst is not None:
            low, high = float(blocks["canary_ms"].min()), float(blocks["canary_ms"].max())
            notes.append(
                f"the results on target {target} come from {len(blocks)} measurement blocks whose canaries differ "
                f"beyond their noise (block canary {low:.4g}–{high:.4g} ms, up to {np.expm1(worst[0]):.1%} apart, "
                f"tolerance {worst[1]:.1%}): the machine ran at different speeds, so comparing these latencies mixes "
                f"machine speeds; results.csv has median_ms_canary_norm ({NORM_LABEL}: median_ms × canary_ref_ms / "
                "canary_ms, assuming the shift slowed every network alike) beside the measured median_ms"
            )
    return notes
