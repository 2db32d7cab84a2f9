"""Accuracy commands: import accuracies obtained elsewhere, list the datasets and the training schedules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hwbench.cli.common import DEFAULT_STORE, StoreOpt, app
from hwbench.cli.text import print_table


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
    from hwbench.accuracy.detection.data import detection_dataset_names, get_detection_dataset

    rows = []
    for n in dataset_names():
        d = get_dataset(n)
        rows.append((n, "classification", d.description, d.layout, "yes" if d.download else "no"))
    for n in detection_dataset_names():
        det = get_detection_dataset(n)
        rows.append((n, "detection", det.description, det.layout, "no"))
    print_table(["name", "task", "description", "PATH", "--download"], rows)


@app.command()
def schedules() -> None:
    """List the built-in training schedules (`--schedule NAME`; a file path works too)."""
    from hwbench.accuracy.schedule import load_schedule, schedule_names

    rows = []
    for n in schedule_names():
        s = load_schedule(n)
        rows.append((n, s.spec.epochs, s.spec.batch_size, s.spec.resolution, s.hash[:12], s.spec.description))
    print_table(["name", "epochs", "batch", "resolution", "hash", "description"], rows)
