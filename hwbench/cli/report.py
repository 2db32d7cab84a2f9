"""`hwbench export-table` and `hwbench report`: files written from the store alone (a table, the report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hwbench.cli.common import DEFAULT_STORE, StoreOpt, app
from hwbench.errors import HwbenchError


@app.command("export-table")
def export_table(
    name: Annotated[str, typer.Argument(help="Sweep name.")],
    format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Write a sweep's results table for pandas users (and its modelled results, kind `modelled`, beside it)."""
    from hwbench.analysis.modelled import modelled_frame
    from hwbench.analysis.table import results_frame
    from hwbench.store import Store

    if format not in ("csv", "parquet"):
        raise HwbenchError(f"--format: expected csv or parquet, got {format!r}")
    db = Store(store, create=False)
    frame = results_frame(db, [name])
    path = output or store.parent / name / f"results.{format}"
    _write(frame, path, format)
    typer.echo(f"{len(frame)} rows → {path}")
    modelled = modelled_frame(db, [name])
    if len(modelled):  # never in the measured table: a file of their own, every row saying kind `modelled`
        other = path.with_name(f"{path.stem}.modelled{path.suffix}")
        _write(modelled, other, format)
        typer.echo(f"{len(modelled)} modelled (not measured) rows → {other}")


def _write(frame: object, path: Path, format: str) -> None:
    """One table to csv or parquet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False) if format == "csv" else frame.to_parquet(path, index=False)  # type: ignore[attr-defined]


@app.command()
def report(
    names: Annotated[list[str], typer.Argument(help="Sweep name(s); several are combined.")],
    store: StoreOpt = DEFAULT_STORE,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Report directory.")] = None,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap replicates (0: no intervals).")] = 1000,
    confidence: Annotated[
        float, typer.Option(min=0.5, max=0.999, help="Interval level; also the bootstrap support a drop needs.")
    ] = 0.95,
    cov_threshold: Annotated[float, typer.Option(min=0.0, help="Flag a larger robust CoV as noisy.")] = 0.10,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    group: Annotated[str, typer.Option(help="Compare by this column: block or space.")] = "block",
) -> None:
    """Regenerate the pre-selection report from the store alone (one sweep, or several combined)."""
    from hwbench.analysis.analyse import Options
    from hwbench.report import write_report
    from hwbench.store import Store

    if group not in ("block", "space"):
        raise HwbenchError(f"--group: expected block or space, got {group!r}")
    options = Options(n_boot=bootstrap, confidence=confidence, cov_threshold=cov_threshold, seed=seed, group=group)
    outdir = output or store.parent / "+".join(names)
    typer.echo(f"report: {write_report(Store(store, create=False), names, outdir, options)}")
