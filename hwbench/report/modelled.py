"""The report's modelled section: per modelled target, accuracy against modelled latency and modelled energy per
block, iso-accuracy ratios on both, and the Kendall τ of its block ranking against each measured target.

Every heading, axis and legend says "modelled": these figures come from an analytical model, not a measurement.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from hwbench.analysis.modelled import COSTS, ModelledAnalysis, analyse_modelled, modelled_frame
from hwbench.analysis.pareto import front_points
from hwbench.modelled import MODELLED_TARGET_SQL
from hwbench.report.plots import LABELS, block_colors, log_axis, save, scale, slug
from hwbench.report.tables import num, pct, render, text, with_ci
from hwbench.store import Store


def modelled_section(store: Store, sweeps: list[str], outdir: Path, n_boot: int = 1000, seed: int = 0) -> str:
    """The section's HTML (figures embedded, CSV tables written beside), or "" when the sweeps have no modelled
    target."""
    from hwbench.analysis.table import results_frame

    frame = modelled_frame(store, sweeps)
    if frame.empty:
        return ""
    a = analyse_modelled(frame, results_frame(store, sweeps), n_boot, seed)
    frame.drop(columns=["coverage_json", "settings_json", "prov_id"]).to_csv(outdir / "modelled.csv", index=False)
    for name, table in a.tables.items():
        table.to_csv(outdir / f"{name}.csv", index=False)
    layer_table(store, sweeps).to_csv(outdir / "modelled_layers.csv", index=False)
    colors = block_colors(sorted(frame["block"].astype(str).unique()))
    parts = [_INTRO]
    for target in sorted(frame["target"].unique()):
        parts.append(_target_part(a, frame, target, colors, outdir))
    parts.append(_agreement_part(a))
    return "\n".join(parts)


_INTRO = (
    '<h2 id="modelled">Modelled accelerators (ZigZag): modelled, not measured</h2>'
    "<p>These targets were not run: ZigZag, an analytical cost model of DNN accelerators, costed each network's "
    "exported ONNX graph layer by layer on an accelerator description. Latency is modelled cycles at the target's "
    "clock, energy is modelled energy per inference; activations, normalisation, softmax and data movement are not "
    "costed (the MACs-costed column says how much of each network the model saw). The figures are never mixed with "
    "measured ones: they are shown here only, and compared with measured targets by block ranking alone. "
    "Tables: modelled.csv, modelled_fronts.csv, modelled_speedups.csv, modelled_rank_agreement.csv, "
    "modelled_coverage.csv, modelled_layers.csv (every costed layer of every network: cycles, ms, µJ, utilisation)."
    "</p>"
)


def _target_part(a: ModelledAnalysis, frame: pd.DataFrame, target: str, colors: dict, outdir: Path) -> str:
    part = frame[frame["target"] == target]
    ok = a.frame[a.frame["target"] == target]
    failed = part[part["status"] == "model_error"]
    fig = save(fronts_figure(ok, target, a, colors), f"modelled_{slug(target)}", outdir)
    speed = a.tables["modelled_speedups"]
    speed = speed[speed["target"] == target] if len(speed) else speed
    html = [
        f"<h3>{escape(target)} (modelled)</h3>",
        f"<p>{len(ok)} network(s) modelled, {len(failed)} could not be; median MACs costed "
        f"{pct(ok['mac_coverage'].median()) if len(ok) else '–'}.</p>",
        f'<figure><img id="fig-{fig["id"]}" alt="{escape(target)} modelled fronts" '
        f'src="data:image/png;base64,{fig["png_b64"]}"><figcaption>{a.quality.label} against modelled latency (left) '
        "and modelled energy per inference (right), per block, with each block's Pareto front. Modelled by ZigZag, "
        f'not measured. Files: <a href="{fig["png"]}">{fig["png"]}</a>, <a href="{fig["svg"]}">{fig["svg"]}</a>.'
        "</figcaption></figure>",
    ]
    if len(speed):
        speed = speed.assign(
            ratio=[with_ci(r.geomean_speedup, r.geo_ci_low, r.geo_ci_high) for r in speed.itertuples()],
            axis=[COSTS[c] for c in speed["cost"]],
        )
        columns = {
            "axis": ("on", text),
            "block_x": ("block X", text),
            "block_y": ("block Y", text),
            "ratio": ("Y / X at equal quality, geometric mean (95% CI)", text),
            "n_levels": ("levels", num),
        }
        html.append("<h4>Iso-quality ratios (modelled)</h4>" + render(speed, columns))
        html.append(
            '<p class="muted">Above 1: block X needs less modelled latency (or energy) than block Y at equal '
            "quality, from the best-of-m curves as for measured targets; the interval resamples networks only "
            "(a modelled figure has no run-to-run noise).</p>"
        )
    if len(failed):
        rows = render(failed, {"arch_id": ("arch_id", text), "error": ("error (recorded)", text)}, limit=20)
        html.append(f"<details><summary>{len(failed)} network(s) the model could not cost</summary>{rows}</details>")
    return "\n".join(html)


def _agreement_part(a: ModelledAnalysis) -> str:
    tau = a.tables["modelled_rank_agreement"]
    head = "<h3>Does a modelled accelerator rank blocks as the measured targets do?</h3>"
    if tau.empty:
        return head + (
            "<p>No measured target with at least two blocks of networks that also have modelled figures: "
            "nothing to compare the modelled ranking with.</p>"
        )
    tau = tau.assign(tau_text=[with_ci(r.kendall_tau, r.tau_ci_low, r.tau_ci_high, num) for r in tau.itertuples()])
    columns = {
        "target_a": ("target A", text),
        "target_b": ("target B", text),
        "n_blocks": ("blocks", num),
        "networks": ("networks", num),
        "tau_text": ("Kendall τ (95% CI)", text),
        "same_best": ("same best block", text),
        "p_same_best": ("bootstrap support", pct),
    }
    return (
        head
        + render(tau, columns)
        + (
            '<p class="muted">Kendall τ of block scores (modelled latency on the modelled target, measured latency on '
            "the other), over the networks both have, with the paired bootstrap of the across-targets section.</p>"
        )
    )


def fronts_figure(ok: pd.DataFrame, target: str, a: ModelledAnalysis, colors: dict[str, Any]) -> Figure:
    """Quality against modelled latency and modelled energy, one colour per block, each block's front stepped."""
    q = a.quality
    fig, axes = plt.subplots(1, len(COSTS), figsize=(8.4, 3.9), constrained_layout=True)
    for ax, (cost, label) in zip(axes, COSTS.items()):
        has = ok[ok[q.column].notna() & (ok[cost] > 0)]
        for block, group in has.groupby("block", sort=True):
            color = colors[str(block)]
            ax.scatter(
                group[cost],
                scale(q.column, group[q.column]),
                s=10,
                alpha=0.4,
                color=color,
                label=f"{block} (n={len(group)})",
            )
            c, v = front_points(group[cost].to_numpy(dtype=float), group[q.column].to_numpy(dtype=float))
            ax.step(c, scale(q.column, v), where="post", color=color, lw=1.6)
        log_axis(ax, "x", cost)
        ax.set_xlabel(f"{label}, log scale")
        ax.set_ylabel(LABELS.get(q.column, q.label) if q.is_accuracy else q.label)
        if not q.is_accuracy:
            log_axis(ax, "y", q.column)
        ax.grid(alpha=0.3, which="both", lw=0.5)
    if len(ok):
        axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{target}: per-block fronts, MODELLED by ZigZag (not measured)", fontsize=11)
    return fig


def has_measured_rows(store: Store, sweeps: list[str]) -> bool:
    """Whether the sweeps have any row of a measured (not modelled) target, or no modelled result at all."""
    store.require_sweeps(sweeps)
    marks = ",".join("?" for _ in sweeps)
    measured = store.query(
        f"SELECT 1 FROM runs r WHERE r.sweep IN ({marks}) AND NOT EXISTS (SELECT 1 FROM sweep_targets st "
        f"WHERE st.sweep = r.sweep AND st.target = r.target AND {MODELLED_TARGET_SQL}) LIMIT 1",
        tuple(sweeps),
    )
    modelled = store.query(f"SELECT 1 FROM sweep_modelled WHERE sweep IN ({marks}) LIMIT 1", tuple(sweeps))
    return bool(measured) or not modelled


def modelled_only_report(store: Store, sweeps: list[str], outdir: Path) -> Path:
    """report.html for sweeps with modelled targets only: the modelled section on a page of its own."""
    section = modelled_section(store, sweeps, outdir)
    title = f"hwbench report (modelled targets only): {', '.join(sweeps)}"
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        "<style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1250px;padding:0 1em}"
        "table{border-collapse:collapse;font-size:.85em}th,td{padding:.2em .6em;border-bottom:1px solid #e3e3e3}"
        "figure img{max-width:100%}.muted,figcaption{color:#666;font-size:.88em}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class='muted'>These sweeps have no measured target: every figure below is "
        f"modelled.</p>{section}</body></html>"
    )
    path = outdir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def layer_table(store: Store, sweeps: list[str]) -> pd.DataFrame:
    """One row per costed layer of every modelled network of the sweeps (kind modelled)."""
    import json

    marks = ",".join("?" for _ in sweeps)
    rows = store.query(
        "SELECT DISTINCT l.target, l.arch_id, m.layers_json FROM sweep_modelled l JOIN modelled m "
        f"ON m.model_key = l.model_key WHERE l.sweep IN ({marks}) AND m.status = 'ok'",
        tuple(sweeps),
    )
    layers = [
        {"kind": "modelled", "target": r["target"], "arch_id": r["arch_id"], "layer": i, **layer}
        for r in rows
        for i, layer in enumerate(json.loads(r["layers_json"] or "[]"))
    ]
    return pd.DataFrame(layers)
