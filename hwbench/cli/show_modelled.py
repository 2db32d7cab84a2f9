"""`hwbench show`'s modelled part: a sweep's modelled targets in their own table, every figure labelled modelled."""

from __future__ import annotations

import textwrap
from typing import Any

import pandas as pd
import typer

from hwbench.cli.text import num, num_range, pct, print_table

# (header, frame column, cell text); headers say "modelled" so no figure reads as a measurement.
COLUMNS: list[tuple[str, str, Any]] = [
    ("space", "space", str),
    ("arch_id", "arch_id", str),
    ("target", "target", str),
    ("kind", "kind", str),
    ("status", "status", str),
    ("MACs", "macs", lambda v: num_range(v, v, 1e6, "M")),
    ("modelled ms", "latency_ms", num),
    ("modelled µJ", "energy_uj", num),
    ("util.", "utilisation", pct),
    ("MACs costed", "mac_coverage", pct),
    ("top-1", "top1", pct),
    ("error", "error", lambda v: str(v)[:60] if isinstance(v, str) else ""),
]
# What csv/json write for a modelled row (raw values).
RAW = [
    "kind",
    "space",
    "arch_id",
    "target",
    "status",
    "macs",
    "cycles",
    "latency_ms",
    "energy_uj",
    "utilisation",
    "spatial_utilisation",
    "mac_coverage",
    "costed_macs",
    "top1",
    "error",
]
NOTE = (
    "Modelled by ZigZag, an analytical accelerator cost model: nothing was run. modelled ms = cycles at the target's "
    "clock; µJ = energy per inference; util. = MAC-array utilisation; MACs costed = share of the network's MACs the "
    "model costs (activations, normalisation, softmax and data movement are not costed: docs/modelled-targets.md)."
)


def print_modelled(frame: pd.DataFrame, width: int, markdown: bool) -> None:
    """The modelled table (a heading line first, a note after)."""
    records = frame.to_dict("records")
    rows = [tuple(fmt(r.get(col)) if r.get(col) is not None else "–" for _, col, fmt in COLUMNS) for r in records]
    headers = [h for h, _, _ in COLUMNS]
    if not any(r.get("error") for r in records):
        headers, rows = headers[:-1], [row[:-1] for row in rows]
    typer.echo("Modelled targets (kind: modelled, not measured):")
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        typer.echo("\n".join(lines + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]))
    else:
        print_table(headers, rows, width)
    typer.echo(textwrap.fill(NOTE, width=max(width, 20)))


def with_kind(measured: pd.DataFrame, modelled: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Measured rows (kind measured, the chosen columns) and modelled rows (kind modelled, RAW) in one frame."""
    left = measured[names].assign(kind="measured") if len(measured) else pd.DataFrame(columns=[*names, "kind"])
    right = modelled[[c for c in RAW if c in modelled]]
    left = left[["kind", *[c for c in left.columns if c != "kind"]]]
    return pd.concat([left, right], ignore_index=True) if len(left) else right.reset_index(drop=True)
