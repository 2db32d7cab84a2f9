"""Two sweeps side by side: per network and target, the artifacts' identity and the latencies' agreement.

The check before trusting a second machine (or a second run): did both measure the same artifacts, and do the
latencies agree (ratio, each median inside the other's interval, rank correlation)?
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from hwbench.analysis.canary import CANARY_COLUMNS, canary_summary, pair_canaries
from hwbench.errors import HwbenchError

# Identity of the two artifacts of one (network, target).
IDENTICAL = "identical"  # same bytes (same hash)
SAME_CONTENT = "same content"  # different bytes, same network once debugging metadata is dropped
DIFFERENT = "different"  # another network, or another conversion of it
UNKNOWN = "unknown"  # different hashes and a file is missing, so the content could not be compared
MISSING = "no artifact"  # one side failed to export

KEYS = ["arch_id", "target"]
SIDE_COLUMNS = ["space", "status", "median_ms", "ci_low_ms", "ci_high_ms", "artifact_hash", "format", *CANARY_COLUMNS]


@lru_cache(maxsize=4096)
def _content(path: str) -> str:
    from hwbench.export.canonical import content_hash

    return content_hash(path)


def artifact_identity(hash_a: object, hash_b: object, path_a: Path | None, path_b: Path | None) -> str:
    """How the two artifacts of one (network, target) relate: IDENTICAL, SAME_CONTENT, DIFFERENT, UNKNOWN, MISSING."""
    if not isinstance(hash_a, str) or not isinstance(hash_b, str):
        return MISSING
    if hash_a == hash_b:
        return IDENTICAL
    if path_a is None or path_b is None or not path_a.is_file() or not path_b.is_file():
        return UNKNOWN
    return SAME_CONTENT if _content(str(path_a)) == _content(str(path_b)) else DIFFERENT


def pair_sweeps(
    a: pd.DataFrame, b: pd.DataFrame, locate: Callable[[str, object, object], Path | None] | None = None
) -> pd.DataFrame:
    """One row per (network, target) present in both results tables (hwbench.analysis.table.results_frame).

    `locate(side, artifact_hash, format)` gives an artifact's file ("a" or "b" side), so artifacts whose bytes
    differ can still be compared by content; without it they are UNKNOWN.
    """
    # A table without the canary columns (stored before schema 8, or made by hand) compares without them.
    left = a.reindex(columns=KEYS + SIDE_COLUMNS).drop_duplicates(KEYS, keep="last")
    right = b.reindex(columns=KEYS + SIDE_COLUMNS).drop_duplicates(KEYS, keep="last")
    pairs = left.merge(right, on=KEYS, suffixes=("_a", "_b"))
    if pairs.empty:
        raise HwbenchError("the two sweeps share no (network, target) pair: nothing to compare")
    find = locate or (lambda side, digest, fmt: None)
    pairs["identity"] = [
        artifact_identity(ha, hb, find("a", ha, fa), find("b", hb, fb))
        for ha, hb, fa, fb in zip(
            pairs["artifact_hash_a"], pairs["artifact_hash_b"], pairs["format_a"], pairs["format_b"]
        )
    ]
    ok = (pairs["status_a"] == "ok") & (pairs["status_b"] == "ok")
    med_a = pairs["median_ms_a"].where(ok)
    med_b = pairs["median_ms_b"].where(ok)
    pairs["ratio"] = med_b / med_a
    pairs["b_in_a"] = ((med_b >= pairs["ci_low_ms_a"]) & (med_b <= pairs["ci_high_ms_a"])).where(ok)
    pairs["a_in_b"] = ((med_a >= pairs["ci_low_ms_b"]) & (med_a <= pairs["ci_high_ms_b"])).where(ok)
    return pair_canaries(pairs).rename(columns={"space_a": "space"}).drop(columns=["space_b"])


def summarise(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per target: identical artifacts, latency ratio B/A (median, p10–p90), median |Δ|, intervals, Spearman ρ;
    and the machine's speed: canary ratio B/A, its tolerance, pairs measured at different speeds, and the
    canary-normalised median ratio and |Δ| (derived, hwbench.analysis.canary), beside the raw figures."""
    rows = []
    for target, group in pairs.groupby("target", sort=True):
        measured = group.dropna(subset=["ratio"])
        ratio = measured["ratio"].to_numpy(dtype=float)
        rows.append(
            {
                "target": target,
                "networks": len(group),
                "identical": int((group["identity"] == IDENTICAL).sum()),
                "same_content": int((group["identity"] == SAME_CONTENT).sum()),
                "different": int((group["identity"] == DIFFERENT).sum()),
                "measured_both": len(measured),
                "median_ratio": _quantile(ratio, 0.5),
                "ratio_p10": _quantile(ratio, 0.1),
                "ratio_p90": _quantile(ratio, 0.9),
                "median_abs_delta": _quantile(np.abs(ratio - 1.0), 0.5),
                "b_in_a": int(measured["b_in_a"].astype(bool).sum()),
                "a_in_b": int(measured["a_in_b"].astype(bool).sum()),
                "spearman": spearman(measured["median_ms_a"].to_numpy(float), measured["median_ms_b"].to_numpy(float)),
                **canary_summary(group),
            }
        )
    return pd.DataFrame(rows)


def _quantile(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q)) if len(values) else float("nan")


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (ties get average ranks); NaN below 3 pairs or when one side is constant."""
    if len(x) < 3:
        return float("nan")
    from scipy.stats import rankdata

    rx, ry = rankdata(x), rankdata(y)
    if np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def setup_differences(a: pd.DataFrame, a_docs: dict, b: pd.DataFrame, b_docs: dict) -> list[str]:
    """Where the two sweeps' setups differ (machine, CPU, runtime versions, threads), per target, in words.

    Expected when two machines are compared on purpose; a surprise otherwise (then the latencies compare setups)."""
    from hwbench.analysis.provenance import provenance_table, provenance_warnings

    tables = [provenance_table(a.assign(sweep="A"), a_docs), provenance_table(b.assign(sweep="B"), b_docs)]
    return provenance_warnings(pd.concat(tables, ignore_index=True))
