"""Results whose timing was noisy, unconverged or disturbed, and a per-target summary.

A result is flagged on a robust spread, not on CoV: one preemption spike among 1,000 runs moves the standard
deviation (and CoV) a lot and the median not at all. The robust spread is the 10–90% range of the runs over
2·1.2816·median, the coefficient of variation a normal law with that range would have. A result is also
flagged when the stop rule was never met (the CI of the median is wider than the target asked for), and when
the measurement marked it `disturbed` (interference from other processes that outlasted the retries); disturbed
results stay in the analyses and the report says so at the top (docs/report.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NOISY_COLUMNS = [
    "target",
    "group",
    "arch_id",
    "median_ms",
    "robust_cov",
    "cov",
    "rel_ci",
    "n_runs",
    "converged",
    "disturbed",
    "reason",
]
SUMMARY_COLUMNS = [
    "target",
    "results",
    "noisy",
    "share_noisy",
    "not_converged",
    "disturbed",
    "median_robust_cov",
    "max_robust_cov",
    "median_cov",
]
_Z90 = 1.2815516  # the 90% quantile of the standard normal


def robust_cov(data: pd.DataFrame) -> pd.Series:
    """(p90 − p10) / (2·1.2816·median): a spike-proof coefficient of variation; the plain CoV where a result
    has no stored percentiles (hand-made or imported tables)."""
    cov = pd.to_numeric(data["cov"], errors="coerce") if "cov" in data else pd.Series(np.nan, index=data.index)
    if not {"p10_ms", "p90_ms"} <= set(data):
        return cov
    spread = pd.to_numeric(data["p90_ms"], errors="coerce") - pd.to_numeric(data["p10_ms"], errors="coerce")
    return (spread / (2 * _Z90 * pd.to_numeric(data["median_ms"], errors="coerce"))).fillna(cov)


def disturbed_mask(data: pd.DataFrame) -> pd.Series:
    """True where the measurement marked the result as disturbed (False when the column is absent)."""
    if "disturbed" not in data:
        return pd.Series(False, index=data.index)
    return pd.to_numeric(data["disturbed"], errors="coerce").fillna(0).astype(bool)


def noisy_results(data: pd.DataFrame, cov_threshold: float = 0.10) -> pd.DataFrame:
    """Every usable result with a robust spread above the threshold, not converged or disturbed, noisiest first."""
    spread = robust_cov(data)
    unconverged = data["converged"].astype("float").eq(0) if "converged" in data else pd.Series(False, data.index)
    disturbed = disturbed_mask(data)
    marked = data.assign(robust_cov=spread, disturbed=disturbed.astype(int))
    flagged = marked[(spread > cov_threshold) | unconverged | disturbed].copy()
    why = data["disturbed_reason"] if "disturbed_reason" in data else pd.Series(None, index=data.index, dtype=object)
    flagged["reason"] = [
        _reason(s, u, d, cov_threshold, w)
        for s, u, d, w in zip(
            spread[flagged.index], unconverged[flagged.index], disturbed[flagged.index], why[flagged.index]
        )
    ]
    flagged = flagged.sort_values("robust_cov", ascending=False, na_position="last")
    return flagged.reindex(columns=NOISY_COLUMNS).reset_index(drop=True)


def noise_summary(data: pd.DataFrame, noisy: pd.DataFrame) -> pd.DataFrame:
    """Per target: how many results, how many flagged, disturbed, and the spread of the robust CoV."""
    rows = []
    spread, disturbed = robust_cov(data), disturbed_mask(data)
    for target, part in data.groupby("target", sort=True):
        flagged = int((noisy["target"] == target).sum())
        rows.append(
            {
                "target": target,
                "results": len(part),
                "noisy": flagged,
                "share_noisy": flagged / len(part),
                "not_converged": int(part["converged"].astype("float").eq(0).sum()),
                "disturbed": int(disturbed[part.index].sum()),
                "median_robust_cov": spread[part.index].median(),
                "max_robust_cov": spread[part.index].max(),
                "median_cov": pd.to_numeric(part["cov"], errors="coerce").median(),
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def disturbed_banner(frame: pd.DataFrame) -> str:
    """One sentence for the top of the report when any result is disturbed ('' when none is)."""
    mask = disturbed_mask(frame)
    if "status" in frame:
        mask &= frame["status"].eq("ok")
    if not mask.any():
        return ""
    per_target = frame[mask].groupby("target").size()
    where = ", ".join(f"{n} on {t}" for t, n in per_target.items())
    total = int(frame["status"].eq("ok").sum()) if "status" in frame else len(frame)
    return (
        f"{int(mask.sum())} of {total} measured results were disturbed by other activity on the machine and could "
        f"not be re-measured quietly ({where}). They are kept in every figure and table below, marked in the noisy "
        "list; their latencies may be too high, and so may the figures built on them."
    )


def _reason(spread: float, unconverged: bool, disturbed: bool, threshold: float, why: object = None) -> str:
    parts = [f"robust CoV {100 * spread:.1f}% > {100 * threshold:.0f}%"] if spread > threshold else []
    parts += ["CI of the median not within target"] if unconverged else []
    detail = f" ({why})" if isinstance(why, str) and why else ""
    parts += [f"disturbed during measurement{detail}"] if disturbed else []
    return "; ".join(parts)
