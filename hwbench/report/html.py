"""Assemble the report from an Analysis: CSV tables, PNG/SVG figures, one self-contained HTML file."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from hwbench import __version__
from hwbench.analysis.analyse import Analysis
from hwbench.analysis.reference import reference_mask
from hwbench.report import sections
from hwbench.report.detection import detection_sections, has_detection, per_image
from hwbench.report.fig_across import across_figure
from hwbench.report.fig_dist import edf_figure
from hwbench.report.fig_fronts import fronts_figure
from hwbench.report.fig_iso import speedup_figure
from hwbench.report.header import report_header
from hwbench.report.plots import block_colors, save, slug


def write_tables(analysis: Analysis, outdir: Path) -> list[str]:
    """Every table as CSV next to the report (the results table without internal ids); return the file names."""
    names = []
    for name, table in analysis.tables.items():
        if name == "results":
            # the per-image lists of detectors go to detection_images.csv, one row per image, not as JSON cells
            table = table.drop(columns=[c for c in ("prov_id", "det_per_image") if c in table])
        if table is None or (table.empty and name != "results"):
            continue
        table.to_csv(outdir / f"{name}.csv", index=False)
        names.append(f"{name}.csv")
    results = analysis.tables["results"]
    if has_detection(results):
        images = per_image(results.assign(group=results[analysis.options.group].astype(str)))
        images.to_csv(outdir / "detection_images.csv", index=False)
        names.append("detection_images.csv")
    return names


def render_report(
    analysis: Analysis, outdir: Path, pruning: list[dict[str, Any]] | None = None, modelled: str = ""
) -> Path:
    """Write report.html, the figures (PNG + SVG) and the CSV tables into outdir; return the HTML path.
    `pruning`: the anchor-pruning sections (hwbench.report.pruning), drawn from the store by the caller;
    `modelled`: the modelled-accelerator section's HTML (hwbench.report.modelled), "" when none."""
    outdir.mkdir(parents=True, exist_ok=True)
    files = write_tables(analysis, outdir)
    t = analysis.tables
    results = t["results"].assign(group=t["results"][analysis.options.group].astype(str))
    is_ref = reference_mask(results)
    colors = block_colors(results.loc[~is_ref, "group"].unique().tolist())
    usable = results[(results["status"] == "ok") & (results["median_ms"] > 0)]
    refs, usable = usable[is_ref[usable.index]], usable[~is_ref[usable.index]]
    targets: list[dict[str, Any]] = []
    for target in analysis.targets:
        fig = fronts_figure(usable, target, analysis.quality, colors, analysis.fronts.get(target), refs)
        figures = [save(fig, f"fronts_{slug(target)}", outdir)]
        if target in analysis.fronts:
            references = t.get("references")
            fig = speedup_figure(t["slowdown"], t["speedups"], target, analysis.quality, colors, references)
            figures.append(save(fig, f"speedup_{slug(target)}", outdir))
        targets.append(sections.target_section(analysis, results, target, figures))
    detection = detection_sections(results, outdir, colors)
    overall = []
    if analysis.has_accuracy and not t["edf"].empty:
        overall.append(save(edf_figure(t["edf"], t["edf_summary"], colors), "edf", outdir))
    across = save(across_figure(t["correlation"], t["ranks"], t["shares"], colors), "across_targets", outdir)
    env = Environment(loader=PackageLoader("hwbench", "report/templates"), autoescape=select_autoescape())
    html = env.get_template("report.html.j2").render(
        title=f"hwbench pre-selection report: {', '.join(analysis.sweeps)}",
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        a=analysis,
        quality_tolerance=(
            f"{100 * analysis.quality_tolerance:g} {analysis.quality.unit} points"
            if analysis.has_accuracy
            else f"{100 * analysis.quality_tolerance:g}% of it"
        ),
        counts=results["status"].value_counts().to_dict(),
        n_archs=results["arch_id"].nunique(),
        summary=sections.summary_matrix(analysis),
        header=report_header(analysis),
        targets=targets,
        detection=detection,
        pruning=pruning or [],
        modelled=modelled,
        edf_figure=overall[0] if overall else None,
        edf_table=sections.edf_table(analysis),
        across_figure=across,
        across=sections.across_tables(analysis),
        noise=sections.noise_table(analysis),
        provenance=sections.provenance_table(analysis),
        files=files,
        figure_files=[f for s in [*targets, *detection, *(pruning or [])] for f in s["figures"]] + overall + [across],
    )
    path = outdir / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
