"""How well FLOPs (MACs) and params predict measured latency: rank correlation per target, with intervals.

Spearman ρ gets the Fisher-z interval with the Bonett–Wright variance (1 + ρ²/2)/(n − 3), which holds its level
for rank correlations from n ≈ 10 (tests/analysis/test_correlation_calibration.py). Pooled over blocks, ρ mixes
"bigger blocks are slower" with "within a block, more MACs is slower" (Simpson): the within-block figure pools
each block's own ρ (Fisher z, weights n − 3). `misorder_*` = (1 − τ)/2, τ Kendall's τ-b: the chance that the
proxy orders a random pair of networks differently from their latency (ties counted half).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

PROXIES = ("macs", "params")


def spearman_ci(rho: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Fisher-z interval of a Spearman ρ (Bonett–Wright variance); NaN below 5 points or at |ρ| = 1 exactly."""
    if n < 5 or not np.isfinite(rho) or abs(rho) >= 1:
        return (rho, rho) if n >= 5 and np.isfinite(rho) else (np.nan, np.nan)
    half = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt((1 + rho * rho / 2) / (n - 3))
    z = np.arctanh(rho)
    return float(np.tanh(z - half)), float(np.tanh(z + half))


def _pair(x: pd.Series, y: pd.Series, confidence: float) -> dict[str, float]:
    """ρ, p, interval and misorder probability of one proxy against latency."""
    if len(x) < 3 or x.nunique() < 2 or y.nunique() < 2:
        return {"rho": np.nan, "p": np.nan, "low": np.nan, "high": np.nan, "misorder": np.nan}
    rho, p = stats.spearmanr(x, y)
    low, high = spearman_ci(float(rho), len(x), confidence)
    tau = stats.kendalltau(x, y)[0]
    return {"rho": float(rho), "p": float(p), "low": low, "high": high, "misorder": (1 - float(tau)) / 2}


def proxy_correlation(frame: pd.DataFrame, by: tuple[str, ...] = ("target",), confidence: float = 0.95) -> pd.DataFrame:
    """Per target (or per `by` group): n, Spearman ρ with its interval and p, and the misorder probability of
    latency against MACs and against params; per target also the within-block ρ (when a `group` column exists)."""
    ok = frame[frame["status"] == "ok"]
    within = by == ("target",) and "group" in ok
    columns = [*by, "n"]
    for proxy in PROXIES:
        columns += [f"spearman_{proxy}", f"{proxy}_ci_low", f"{proxy}_ci_high", f"p_{proxy}", f"misorder_{proxy}"]
        if within:
            columns += [f"within_{proxy}", f"within_{proxy}_low", f"within_{proxy}_high"]
    rows = []
    for key, group in ok.groupby(list(by), sort=True):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row["n"] = len(group)
        for proxy in PROXIES:
            r = _pair(group[proxy], group["median_ms"], confidence)
            row[f"spearman_{proxy}"], row[f"p_{proxy}"], row[f"misorder_{proxy}"] = r["rho"], r["p"], r["misorder"]
            row[f"{proxy}_ci_low"], row[f"{proxy}_ci_high"] = r["low"], r["high"]
            if within:
                row.update(_within(group, proxy, confidence))
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _within(group: pd.DataFrame, proxy: str, confidence: float) -> dict[str, float]:
    """Each block's own Spearman ρ pooled in Fisher z (weights n − 3), with its interval."""
    zs, weights = [], []
    for _, part in group.groupby("group"):
        r = _pair(part[proxy], part["median_ms"], confidence)["rho"] if len(part) >= 5 else np.nan
        if np.isfinite(r):
            zs.append(np.arctanh(np.clip(r, -0.9999, 0.9999)))
            weights.append((len(part) - 3) / (1 + r * r / 2))
    if not zs:
        return {f"within_{proxy}": np.nan, f"within_{proxy}_low": np.nan, f"within_{proxy}_high": np.nan}
    w = np.array(weights)
    z = float(np.sum(w * np.array(zs)) / w.sum())
    half = stats.norm.ppf(0.5 + confidence / 2) / np.sqrt(w.sum())
    return {
        f"within_{proxy}": float(np.tanh(z)),
        f"within_{proxy}_low": float(np.tanh(z - half)),
        f"within_{proxy}_high": float(np.tanh(z + half)),
    }
