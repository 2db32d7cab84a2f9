"""Reports: figures and one self-contained HTML file, generated from the store alone."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hwbench.store import Store

if TYPE_CHECKING:
    from hwbench.analysis.analyse import Options


def write_report(store: Store, sweeps: list[str], outdir: str | Path, options: Options | None = None) -> Path:
    """Analyse the sweeps and write report.html, PNG/SVG figures and CSV tables into outdir; return the HTML path."""
    from hwbench.analysis.analyse import analyse
    from hwbench.report.html import render_report
    from hwbench.report.modelled import has_measured_rows, modelled_section
    from hwbench.report.pruning import pruning_sections

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if not has_measured_rows(store, sweeps):  # only modelled targets: their section alone, on its own page
        from hwbench.report.modelled import modelled_only_report

        return modelled_only_report(store, sweeps, outdir)
    analysis = analyse(store, sweeps, options)
    modelled = modelled_section(store, sweeps, outdir, analysis.options.n_boot, analysis.options.seed)
    return render_report(analysis, outdir, pruning_sections(store, sweeps, outdir), modelled)
