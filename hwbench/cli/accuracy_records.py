"""A sweep's accuracy records as a table: what `hwbench show --accuracy` prints."""

from __future__ import annotations

from hwbench.cli.text import num, pct, print_table
from hwbench.errors import HwbenchError
from hwbench.store import Store


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
                pct(r["top1"]),
                pct(r["top5"]),
                minutes,
                num(r["images_per_second"], 0),
                (r["error"] or "")[:60],
            )
        )
    if not rows:
        raise HwbenchError(f"sweep {name!r} has no accuracy records (run `hwbench sweep` with a --dataset)")
    headers = ["space", "arch_id", "dataset", "schedule", "source", "evaluated on", "status", "top-1", "top-5"]
    print_table([*headers, "train min", "img/s", "error"], rows)
