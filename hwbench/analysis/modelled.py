"""Modelled targets in the analysis: their own table (kind `modelled`), fronts on modelled latency and energy,
iso-accuracy ratios, and how their block ranking agrees with the measured targets'.

Modelled figures never enter the measured results table (hwbench.analysis.table leaves modelled targets out).
Where this module puts them beside measured ones (Kendall τ), each modelled target's name carries " (modelled)".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hwbench.analysis import iso, pareto
from hwbench.analysis.data import Quality, choose_quality, usable, with_quality
from hwbench.analysis.median_noise import QUANTILES
from hwbench.analysis.rank_agreement import AGREEMENT_COLUMNS, rank_agreement
from hwbench.analysis.stepfront import TargetFronts, target_fronts
from hwbench.modelled import MODELLED_TARGET_SQL
from hwbench.store import Store

SUFFIX = " (modelled)"
# The modelled cost axes: column → label (every label says modelled).
COSTS = {"latency_ms": "modelled latency (ms)", "energy_uj": "modelled energy per inference (µJ)"}

_SQL = """
SELECT r.sweep, sa.space, sa.sample_index, r.arch_id, a.family, a.block, a.macs, a.params, r.target,
       e.status AS export_status, e.error AS export_error, m.model_key, m.status AS model_status,
       m.error AS model_error, m.cycles, m.latency_ms, m.energy_uj, m.utilisation, m.spatial_utilisation,
       m.macs AS graph_macs, m.costed_macs, m.mac_coverage, m.n_layers, m.layers_cached, m.layers_costed,
       m.model_seconds, m.coverage_json, m.settings_json, m.prov_id, m.created_at AS modelled_at
FROM sweep_archs sa
CROSS JOIN runs r ON r.sweep = sa.sweep AND r.arch_id = sa.arch_id
JOIN archs a ON a.arch_id = r.arch_id
JOIN sweep_targets st ON st.sweep = r.sweep AND st.target = r.target
     AND {modelled}
LEFT JOIN exports e ON e.export_key = r.export_key
LEFT JOIN sweep_modelled l ON l.sweep = r.sweep AND l.arch_id = r.arch_id AND l.target = r.target
LEFT JOIN modelled m ON m.model_key = l.model_key
WHERE sa.sweep IN ({marks})
ORDER BY r.sweep, r.target, sa.space, sa.sample_index
"""

# The newest successful PyTorch evaluation of each network (top-1, or mAP for a detector).
_ACC_SQL = """
SELECT sa.sweep, a.arch_id, a.top1, a.map, a.created_at
FROM sweep_accuracy sa JOIN accuracies a ON a.acc_key = sa.acc_key
WHERE sa.sweep IN ({marks}) AND a.status = 'ok' AND a.evaluated_on = 'torch' ORDER BY a.created_at
"""


def modelled_frame(store: Store, sweeps: list[str]) -> pd.DataFrame:
    """One row per (sweep, network, modelled target): kind `modelled`, status (ok / export_error / model_error /
    pending), cycles, latency_ms at the target's clock, energy_uj per inference, utilisation, MAC coverage, accuracy.
    """
    marks = ",".join("?" for _ in sweeps)
    rows = store.query(_SQL.format(marks=marks, modelled=MODELLED_TARGET_SQL), tuple(sweeps))
    select = _SQL.split("FROM")[0].replace("SELECT", "")
    columns = [c.strip().split(" AS ")[-1].split(".")[-1] for c in select.split(",")]
    frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    frame.insert(0, "kind", "modelled")
    conditions = [
        frame["export_status"].isna(),
        frame["export_status"] != "ok",
        frame["model_status"].isna(),
        frame["model_status"] == "ok",
    ]
    frame["status"] = np.select(conditions, ["pending", "export_error", "pending", "ok"], default="model_error")
    frame["error"] = frame["model_error"].fillna(frame["export_error"])
    acc = pd.DataFrame(
        [tuple(r) for r in store.query(_ACC_SQL.format(marks=marks), tuple(sweeps))],
        columns=["sweep", "arch_id", "top1", "map", "created_at"],
    )
    acc = acc.drop_duplicates(["sweep", "arch_id"], keep="last").drop(columns="created_at")
    frame = frame.merge(acc, on=["sweep", "arch_id"], how="left")
    for column in ("cycles", "latency_ms", "energy_uj", "utilisation", "mac_coverage", "top1", "map"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


@dataclass
class ModelledAnalysis:
    """Per modelled target: fronts and iso-accuracy ratios on each modelled cost; τ against every measured target."""

    quality: Quality
    frame: pd.DataFrame
    fronts: dict[str, dict[str, TargetFronts]] = field(default_factory=dict)  # cost → target → fronts
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def targets(self) -> list[str]:
        """Every modelled target with a result."""
        return sorted(self.frame["target"].unique())


def analyse_modelled(
    frame: pd.DataFrame, measured: pd.DataFrame | None, n_boot: int = 1000, seed: int = 0, m: int = 3
) -> ModelledAnalysis:
    """Fronts, iso-accuracy ratios (modelled latency, modelled energy) and Kendall τ against the measured targets."""
    ok = frame[(frame["status"] == "ok") & (frame["latency_ms"] > 0)].assign(group=frame["block"].astype(str))
    quality = choose_quality(ok)
    scored = with_quality(ok, quality).reset_index(drop=True)
    result = ModelledAnalysis(quality, ok)
    fronts, pairs = [], []
    for cost in COSTS:
        data = scored.assign(median_ms=scored[cost])
        fronts.append(pareto.front_table(data, quality.column, cost))
        # A modelled figure has no run-to-run noise: every quantile of its "median" is the figure itself.
        noise = np.repeat(data["median_ms"].to_numpy(dtype=float)[:, None], QUANTILES, axis=1)
        tfs = target_fronts(data, quality, noise, n_boot, seed, m) if len(data) else {}
        result.fronts[cost] = tfs
        for tf in tfs.values():
            pair = iso.pair_tables(tf)[1].assign(cost=cost)
            pairs.append(pair)
    result.tables["modelled_fronts"] = _concat(fronts)
    result.tables["modelled_speedups"] = _concat(pairs)
    result.tables["modelled_rank_agreement"] = agreement(scored, measured, quality, n_boot, seed)
    result.tables["modelled_coverage"] = coverage_summary(frame)
    return result


def agreement(
    modelled: pd.DataFrame, measured: pd.DataFrame | None, quality: Quality, n_boot: int, seed: int
) -> pd.DataFrame:
    """Kendall τ of block rankings, each modelled target (latency) against each measured target, on the networks
    both have (rank_agreement's paired bootstrap)."""
    columns = ["cost", *AGREEMENT_COLUMNS]
    if measured is None or measured.empty or modelled.empty:
        return pd.DataFrame(columns=columns)
    measured, _ = usable(measured)
    measured = with_quality(measured, quality)
    rows = []
    for target in sorted(modelled["target"].unique()):
        mine = modelled[modelled["target"] == target].assign(
            target=target + SUFFIX, median_ms=lambda d: d["latency_ms"]
        )
        for other in sorted(measured["target"].unique()):
            both = pd.concat([mine, measured[measured["target"] == other]], ignore_index=True)
            table = rank_agreement(
                both[["arch_id", "target", "group", quality.column, "median_ms"]], quality.column, n_boot, seed
            )
            rows.append(table.assign(cost="latency_ms"))
    return _concat(rows, columns)


def coverage_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per modelled target and block: networks modelled, failed, and the share of MACs the model costs."""
    columns = ["target", "block", "modelled", "failed", "mac_coverage_min", "mac_coverage_median"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for (target, block), part in frame.groupby(["target", "block"], sort=True):
        ok = part[part["status"] == "ok"]
        cov = ok["mac_coverage"].dropna()
        rows.append(
            {
                "target": target,
                "block": block,
                "modelled": len(ok),
                "failed": int((part["status"] == "model_error").sum()),
                "mac_coverage_min": float(cov.min()) if len(cov) else np.nan,
                "mac_coverage_median": float(cov.median()) if len(cov) else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _concat(frames: list[pd.DataFrame], columns: list[str] | None = None) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
