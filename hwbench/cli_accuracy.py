"""CLI commands for accuracy: import accuracies, list datasets and schedules, show a sweep's accuracy records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hwbench.cli import DEFAULT_STORE, StoreOpt, _num, _pct, _print_table, app
from hwbench.errors import HwbenchError
from hwbench.store import Store


@app.command("import-accuracy")
def import_accuracy(
    name: Annotated[str, typer.Argument(help="Sweep name.")],
    file: Annotated[Path, typer.Argument(help="CSV with columns arch_id, dataset, metric (top1/top5), value.")],
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Import accuracies obtained elsewhere (fractions in [0, 1], or percentages written as 76.1%)."""
    from hwbench.accuracy.importer import import_accuracy as run_import
    from hwbench.store import Store

    count = run_import(Store(store, create=False), name, file)
    typer.echo(f"{count} accuracy records imported into sweep {name!r} from {file}")


@app.command()
def datasets() -> None:
    """List the datasets `--dataset NAME[:PATH]` accepts and the layout each expects."""
    from hwbench.accuracy.datasets import dataset_names, get_dataset

    rows = []
    for n in dataset_names():
        d = get_dataset(n)
        rows.append((n, d.description, d.layout, "yes" if d.download else "no"))
    _print_table(["name", "description", "PATH", "--download"], rows)


@app.command()
def schedules() -> None:
    """List the built-in training schedules (`--schedule NAME`; a file path works too)."""
    from hwbench.accuracy.schedule import load_schedule, schedule_names

    rows = []
    for n in schedule_names():
        s = load_schedule(n)
        rows.append((n, s.spec.epochs, s.spec.batch_size, s.spec.resolution, s.hash[:12], s.spec.description))
    _print_table(["name", "epochs", "batch", "resolution", "hash", "description"], rows)


def show_accuracy(store: Store, name: str) -> None:
    """Every accuracy record of a sweep: trained, imported and artifact evaluations, errors included."""
    store.require_sweeps([name])
    rows = []
    for r in store.sweep_accuracies(name):
        on = r["evaluated_on"] if r["evaluated_on"] == "torch" else f"artifact {r['evaluated_on'][:8]}"
        minutes = f"{r['train_seconds'] / 60:.2f}" if r["train_seconds"] else "–"
        rows.append(
            (
                r["space"] or "",
                r["arch_id"],
                r["dataset"],
                r["schedule"],
                r["source"],
                on,
                r["status"],
                _pct(r["top1"]),
                _pct(r["top5"]),
                minutes,
                _num(r["images_per_second"], 0),
                (r["error"] or "")[:60],
            )
        )
    if not rows:
        raise HwbenchError(f"sweep {name!r} has no accuracy records (run `hwbench sweep` with a --dataset)")
    headers = ["space", "arch_id", "dataset", "schedule", "source", "evaluated on", "status", "top-1", "top-5"]
    _print_table([*headers, "train min", "img/s", "error"], rows)
