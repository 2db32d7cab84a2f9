"""The report's sections as template context: verdicts, sentences and formatted tables, per target and overall."""

from __future__ import annotations

from typing import Any

import pandas as pd

from hwbench.analysis.analyse import Analysis
from hwbench.report.tables import mega, num, pct, pts, ratio, render, text, with_ci

ERRORS_SHOWN = 100  # failed networks listed per target in the HTML (all are in results.csv)
NOISY_SHOWN = 20


def _level(analysis: Analysis):
    return pct if analysis.has_accuracy else mega


def target_section(analysis: Analysis, results: pd.DataFrame, target: str, figures: list[dict]) -> dict[str, Any]:
    """Everything the template shows for one target."""
    t, q, lvl = analysis.tables, analysis.quality, _level(analysis)
    rec = t["recommendations"][t["recommendations"]["target"] == target]
    pairs = t["speedups"][t["speedups"]["target"] == target].copy()
    pairs["geo"] = [with_ci(r.geomean_speedup, r.geo_ci_low, r.geo_ci_high) for r in pairs.itertuples()]
    pairs["at_mid"] = [with_ci(r.speedup, r.ci_low, r.ci_high) for r in pairs.itertuples()]
    pairs["max_x"] = [ratio(r.max_speedup) for r in pairs.itertuples()]
    pairs["max_y"] = [ratio(r.max_speedup_y) for r in pairs.itertuples()]
    pairs["range"] = [q.span(r.overlap_lo, r.overlap_hi) if r.n_levels else "no overlap" for r in pairs.itertuples()]
    gaps = t["gaps"][t["gaps"]["target"] == target].copy()
    gaps["mean"] = [with_ci(r.mean_gap, r.mean_ci_low, r.mean_ci_high, pts) for r in gaps.itertuples()]
    gaps["max_x"] = [pts(r.max_gap) for r in gaps.itertuples()]
    gaps["max_y"] = [pts(r.max_gap_y) for r in gaps.itertuples()]
    errors = results[(results["target"] == target) & results["status"].str.endswith("error")]
    noisy = t["noisy"][t["noisy"]["target"] == target]
    conversion = t["conversion"]
    conversion = conversion[conversion["target"] == target] if "target" in conversion else conversion
    return {
        "target": target,
        "figures": figures,
        "verdicts": {v: rec.loc[rec["verdict"] == v, "group"].tolist() for v in rec["verdict"].unique()},
        "recommendations": render(
            rec,
            {
                "group": ("block", text),
                "networks": ("networks", text),
                "verdict": ("verdict", text),
                "cost": ("cost of dropping (geo-mean)", ratio),
                "support": ("bootstrap support", num),
                "support_se": ("± MC error", num),
                "replicates": ("replicates", text),
                "evidence": ("evidence", text),
            },
        ),
        "sentences": pairs["sentence"].tolist(),
        "pairs": render(
            pairs,
            {
                "block_x": ("block x", text),
                "block_y": ("block y", text),
                "n_x": ("n x", text),
                "n_y": ("n y", text),
                "range": (f"shared {q.unit} range", text),
                "geo": ("x over y, geo-mean over range (CI)", text),
                "coverage": ("replicates covering", pct),
                "p_holm": ("Holm p", num),
                "faster": ("faster (Holm)", text),
                "ref_level": (f"at {q.unit}", lvl),
                "at_mid": ("x over y there (CI)", text),
                "max_x": ("largest x over y (no CI)", text),
                "max_level": ("at", lvl),
                "max_y": ("largest y over x (no CI)", text),
                "max_level_y": ("at", lvl),
            },
        ),
        "gaps": render(
            gaps,
            {
                "block_x": ("block x", text),
                "block_y": ("block y", text),
                "latency_lo_ms": ("from ms", num),
                "latency_hi_ms": ("to ms", num),
                "mean": ("mean gap x − y (CI)", text),
                "coverage": ("replicates covering", pct),
                "max_x": ("largest x ahead (no CI)", text),
                "max_gap_ms": ("at ms", num),
                "max_y": ("largest y ahead (no CI)", text),
                "max_gap_y_ms": ("at ms", num),
            },
        )
        if len(gaps)
        else "",
        "shares": render(
            t["shares"][t["shares"]["target"] == target],
            {
                "group": ("block", text),
                "networks": ("networks", text),
                "front_points": ("own front", text),
                "combined_points": ("on combined front", text),
                "share_points": ("share of its points", pct),
                "share_range": ("share of its range", pct),
            },
        ),
        "overview": render(
            t["overview"][t["overview"]["target"] == target],
            {
                "group": ("block", text),
                "networks": ("networks", text),
                "measured": ("measured", text),
                "failed": ("failed", text),
                "pending": ("pending", text),
                "with_accuracy": ("with accuracy", text),
                "disturbed": ("disturbed", text),
                "median_ms_min": ("fastest ms", num),
                "median_ms_median": ("median ms", num),
                "median_ms_max": ("slowest ms", num),
                "ms_per_gmac": ("ms per GMAC", num),
            },
        ),
        "conversion": render(
            conversion, {c: (c.replace("_", " "), _conv_fmt(c)) for c in conversion.columns if c != "target"}
        )
        if len(conversion)
        else "",
        **token_comparison(results, target),
        **reference_comparison(analysis, target),
        **stage_preference(analysis, target),
        "noisy_count": len(noisy),
        "noisy": render(
            noisy,
            {
                "group": ("block", text),
                "arch_id": ("arch_id", text),
                "median_ms": ("ms", num),
                "robust_cov": ("robust CoV", pct),
                "cov": ("CoV", pct),
                "n_runs": ("runs", text),
                "reason": ("why", text),
            },
            NOISY_SHOWN,
        ),
        "errors": errors.reindex(columns=["space", "arch_id", "status", "error"]).head(ERRORS_SHOWN).to_dict("records"),
        "errors_count": len(errors),
    }


def reference_comparison(analysis: Analysis, target: str) -> dict[str, Any]:
    """Each reference network against each block's front on this target: sentences and the table."""
    table = analysis.tables.get("references")
    if table is None or table.empty:
        return {"reference_sentences": [], "references": ""}
    part = table[table["target"] == target].copy()
    part["vs"] = [with_ci(r.ratio, r.ci_low, r.ci_high) for r in part.itertuples()]
    q = analysis.quality
    return {
        "reference_sentences": part["sentence"].tolist(),
        "references": render(
            part,
            {
                "reference": ("reference", text),
                "block": ("block front", text),
                "n": ("networks", text),
                "ref_quality": (f"reference {q.unit}", _level(analysis)),
                "ref_ms": ("reference ms", num),
                "front_ms": (f"front ms at that {q.unit}", num),
                "vs": ("reference / front (CI)", text),
                "coverage": ("replicates covering", pct),
                "p_holm": ("Holm p", num),
                "faster": ("faster", text),
                "status": ("status", text),
            },
        ),
    }


def stage_preference(analysis: Analysis, target: str) -> dict[str, Any]:
    """Hybrid spaces: the block each stage's front networks use, in words and as a table."""
    from hwbench.analysis.stage_blocks import preference_sentences

    table = analysis.tables.get("stage_blocks")
    if table is None or table.empty:
        return {"stage_sentences": [], "stage_blocks": ""}
    part = table[table["target"] == target].copy()
    part["on_front"] = [f"{r.front_with_block} of {r.front_size}" for r in part.itertuples()]
    part["sampled"] = [f"{r.with_block} of {r.networks}" for r in part.itertuples()]
    return {
        "stage_sentences": preference_sentences(part),
        "stage_blocks": render(
            part,
            {
                "group": ("space", text),
                "stage": ("stage", text),
                "block": ("block", text),
                "on_front": ("front networks with it", text),
                "front_share": ("share of the front", pct),
                "sampled": ("networks with it", text),
                "base_share": ("share of all", pct),
            },
        ),
    }


def token_comparison(results: pd.DataFrame, target: str) -> dict[str, Any]:
    """Token-reduced ViTs against their dense counterparts on this target, and those slower than dense."""
    if "dense_median_ms" not in results:
        return {"tokens": "", "slower": []}
    rows = results[(results["target"] == target) & results["dense_median_ms"].notna()]
    if rows.empty:
        return {"tokens": "", "slower": []}
    slower = rows[rows["slower_than_dense"].astype(bool)]
    table = render(
        rows.sort_values("speedup_vs_dense"),
        {
            "space": ("space", text),
            "arch_id": ("arch_id", text),
            "token_form": ("token form", text),
            "token_macs": ("MACs (mean)", mega),
            "median_ms": ("ms", num),
            "image_median_ms": ("per-image median ms", num),
            "image_p10_ms": ("p10", num),
            "image_p90_ms": ("p90", num),
            "image_sd_ms": ("image-to-image sd", num),
            "image_noise_ms": ("noise of one image's median", num),
            "dense_median_ms": ("dense ms", num),
            "speedup_vs_dense": ("speedup", ratio),
        },
    )
    return {"tokens": table, "slower": [f"{r.space} {r.arch_id}" for r in slower.itertuples()]}


def _conv_fmt(column: str):
    return pct if column.endswith(("_share", "top1_median", "drop_median", "agreement_median")) else num


def summary_matrix(analysis: Analysis) -> dict[str, Any]:
    """Verdicts as a target × block grid, for the top of the report."""
    rec = analysis.tables["recommendations"]
    blocks = sorted(rec["group"].unique())
    rows = []
    for target, part in rec.groupby("target", sort=True):
        verdict = part.set_index("group")["verdict"]
        rows.append({"target": target, "cells": [verdict.get(b, "") for b in blocks]})
    return {"blocks": blocks, "rows": rows}


def edf_table(analysis: Analysis) -> str:
    """n (and networks in the common bins), min and mean error (with its interval) and band per block and kind."""
    s = analysis.tables["edf_summary"]
    if s.empty:
        return ""
    s = s.assign(mean=[with_ci(r.mean_error, r.mean_ci_low, r.mean_ci_high, pct) for r in s.itertuples()])
    return render(
        s,
        {
            "group": ("block", text),
            "kind": ("EDF", text),
            "n": ("n", text),
            "n_used": ("in common bins", text),
            "bins": ("common bins", text),
            "min_error": ("min error", pct),
            "mean": ("mean error (CI)", text),
            "band": ("band ±", pct),
        },
    )


def across_tables(analysis: Analysis) -> dict[str, str]:
    """Correlation of complexity with latency (pooled and within blocks), and agreement of block rankings."""
    t = analysis.tables
    corr = t["correlation"].copy()
    for proxy in ("macs", "params"):
        corr[f"rho_{proxy}"] = [
            with_ci(r[f"spearman_{proxy}"], r[f"{proxy}_ci_low"], r[f"{proxy}_ci_high"], num)
            for _, r in corr.iterrows()
        ]
        if f"within_{proxy}" in corr:
            corr[f"w_{proxy}"] = [
                with_ci(r[f"within_{proxy}"], r[f"within_{proxy}_low"], r[f"within_{proxy}_high"], num)
                for _, r in corr.iterrows()
            ]
    agreement = t.get("rank_agreement", pd.DataFrame()).copy()
    if len(agreement):
        agreement["tau"] = [with_ci(r.kendall_tau, r.tau_ci_low, r.tau_ci_high, num) for r in agreement.itertuples()]
    return {
        "correlation": render(
            corr,
            {
                "target": ("target", text),
                "n": ("results", text),
                "rho_macs": ("ρ MACs (CI)", text),
                "w_macs": ("within blocks (CI)", text),
                "misorder_macs": ("MACs misorder a pair", pct),
                "rho_params": ("ρ params (CI)", text),
                "w_params": ("within blocks (CI)", text),
                "misorder_params": ("params misorder a pair", pct),
            },
        ),
        "tau": render(
            agreement,
            {
                "target_a": ("target", text),
                "target_b": ("target", text),
                "n_blocks": ("blocks", text),
                "networks": ("networks on both", text),
                "tau": ("Kendall τ (CI)", text),
                "same_best": ("same best block", text),
                "p_same_best": ("bootstrap support", pct),
            },
        )
        if len(agreement)
        else "",
        "ranks": render(
            t["ranks"],
            {
                "target": ("target", text),
                "group": ("block", text),
                "score": ("latency / best (geo-mean)", ratio),
                "rank": ("rank", text),
                "note": ("note", text),
            },
        ),
    }


def noise_table(analysis: Analysis) -> str:
    """Per target: noisy and unconverged results."""
    return render(
        analysis.tables["noise_summary"],
        {
            "target": ("target", text),
            "results": ("results", text),
            "noisy": ("noisy", text),
            "share_noisy": ("share", pct),
            "not_converged": ("not converged", text),
            "disturbed": ("disturbed", text),
            "median_robust_cov": ("median robust CoV", pct),
            "max_robust_cov": ("max robust CoV", pct),
            "median_cov": ("median CoV", pct),
        },
    )


def provenance_table(analysis: Analysis) -> str:
    """Machines, runtimes, versions and dates per sweep and target."""
    return render(
        analysis.tables["provenance"], {c: (c.replace("_", " "), text) for c in analysis.tables["provenance"].columns}
    )
