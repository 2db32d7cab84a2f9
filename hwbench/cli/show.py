"""`hwbench show`: a sweep's results as a table fitted to the terminal, or as CSV, JSON or Markdown on stdout."""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from hwbench.cli.common import DEFAULT_STORE, StoreOpt, app
from hwbench.cli.show_tokens import (
    DET_SPEEDUP_PARTS,
    SPEEDUP_NOTE,
    show_token_comparison,
    slower_detector,
    speed_shift_note,
    speedup_cell,
    speedup_raw,
)
from hwbench.cli.text import num, num_range, pct, print_table
from hwbench.errors import ConfigError

FORMATS = ("table", "csv", "json", "markdown")
# Without a terminal (piped) and no $COLUMNS, tables are laid out for the classic 80 columns.
DEFAULT_WIDTH = 80


@dataclass(frozen=True)
class Column:
    """A display column: header, priority (0 is kept longest when the table must shrink) and its cell text."""

    header: str
    priority: int
    cell: Callable[[dict[str, Any]], str]
    raw: tuple[str, ...]  # the results-frame columns it shows (what csv/json write for it)


def _ci(r: dict[str, Any]) -> str:
    return "–" if _missing(r.get("ci_low_ms")) else f"{num(r['ci_low_ms'])}–{num(r['ci_high_ms'])}"


def _cov(r: dict[str, Any]) -> str:
    """CoV as a percentage, as the report shows it."""
    return "–" if _missing(r.get("cov")) else f"{100 * float(r['cov']):.1f}%"


def flags(r: dict[str, Any]) -> str:
    """Marks a reader must not miss: a reference network, a disturbed measurement, one that stopped before its
    precision goal."""
    marks = ["ref."] if r.get("reference") else []
    if r.get("disturbed") is True or r.get("disturbed") == 1:
        marks.append("dist.")
    if r.get("status") == "ok" and not _missing(r.get("converged")) and not bool(r.get("converged")):
        marks.append("not conv.")
    if slower_detector(r):
        marks.append("slower")
    return " ".join(marks)


def _artifact(r: dict[str, Any]) -> str:
    from hwbench.analysis.artifact_info import summary

    return summary(r)


def _error(r: dict[str, Any]) -> str:
    return str(r["error"])[:60] if isinstance(r.get("error"), str) else ""


COLUMNS: dict[str, Column] = {
    "space": Column("space", 1, lambda r: str(r["space"]), ("space",)),
    "arch_id": Column("arch_id", 3, lambda r: str(r["arch_id"]), ("arch_id",)),
    "target": Column("target", 1, lambda r: str(r["target"]), ("target",)),
    "status": Column("status", 3, lambda r: str(r["status"]), ("status",)),
    "macs": Column("MACs", 3, lambda r: num_range(r["macs"], r["macs"], 1e6, "M"), ("macs",)),
    "params": Column("params", 4, lambda r: f"{r['params'] / 1e6:.2f}M", ("params",)),
    "median_ms": Column("median ms", 1, lambda r: num(r["median_ms"]), ("median_ms",)),
    "ci": Column("95% CI ms", 3, _ci, ("ci_low_ms", "ci_high_ms")),
    "cov": Column("CoV", 2, _cov, ("cov",)),
    "runs": Column("runs", 4, lambda r: num(r["n_runs"], 0), ("n_runs",)),
    "top1": Column("top-1", 1, lambda r: pct(r.get("top1")), ("top1",)),
    "flags": Column("flags", 0, flags, ("converged", "disturbed", "reference")),
    "artifact": Column("artifact", 5, _artifact, ()),
    "error": Column("error", 2, _error, ("error",)),
}


# Detection sweeps (a results frame with `map`): the accuracy is mAP, and the latency comes in parts (trained
# weights, real images, NMS included) next to the graph's protocol median.
def _map_ci(r: dict[str, Any], prefix: str = "") -> str:
    """A mAP's 95% bootstrap interval in percent: 23.0–29.0%."""
    low, high = r.get(f"{prefix}map_ci_low"), r.get(f"{prefix}map_ci_high")
    return "–" if _missing(low) or _missing(high) else f"{100 * float(low):.1f}–{pct(high)}"


DETECTION_COLUMNS: dict[str, Column] = {
    "map": Column("mAP", 1, lambda r: pct(r.get("map")), ("map",)),
    "map_ci": Column("mAP 95% CI", 3, _map_ci, ("map_ci_low", "map_ci_high")),
    "map50": Column("AP50", 3, lambda r: pct(r.get("map50")), ("map50",)),
    "boxes": Column("boxes", 3, lambda r: num(r.get("boxes"), 0), ("boxes",)),
    "head_macs": Column(
        "head MACs", 4, lambda r: num_range(r.get("head_macs"), r.get("head_macs"), 1e6, "M"), ("head_macs",)
    ),
    "det_graph_ms": Column("graph ms", 2, lambda r: num(r.get("det_graph_ms")), ("det_graph_ms",)),
    "det_nms_ms": Column("NMS ms", 2, lambda r: num(r.get("det_nms_ms")), ("det_nms_ms",)),
    "det_e2e_ms": Column("e2e ms", 1, lambda r: num(r.get("det_e2e_ms")), ("det_e2e_ms",)),
    "nms_share": Column("NMS share", 2, lambda r: pct(r.get("nms_share")), ("nms_share",)),
    "artifact_map": Column("artifact mAP", 4, lambda r: pct(r.get("artifact_map")), ("artifact_map",)),
    "artifact_map_ci": Column(
        "artifact 95% CI", 5, lambda r: _map_ci(r, "artifact_"), ("artifact_map_ci_low", "artifact_map_ci_high")
    ),
}
# Pruning ViT detectors (a frame with det_e2e_speedup_median): per-image speed-ups over the dense counterpart.
DET_TOKEN_COLUMNS: dict[str, Column] = {
    key: Column(f"{part} ×", {"e2e": 0, "backbone": 1}.get(part, 4), speedup_cell(part), speedup_raw(part))
    for key, part in DET_SPEEDUP_PARTS.items()
}
# Dropped from the default view when no row has a value (old stores have no intervals, most no artifact mAP).
OPTIONAL = ("flags", "artifact", "error", "map_ci", "artifact_map", "artifact_map_ci", *DET_TOKEN_COLUMNS)
ALL_COLUMNS = {**COLUMNS, **DETECTION_COLUMNS, **DET_TOKEN_COLUMNS}


def default_columns(frame_columns: list[str]) -> list[str]:
    """The columns shown when none are chosen: detection sweeps show mAP and the latency parts instead of top-1,
    and the speed-ups over the dense counterparts where the sweep has pruning ViT detectors."""
    if "map" not in frame_columns:
        return list(COLUMNS)
    keys = [k for k in COLUMNS if k not in ("top1", "flags", "artifact", "error")]
    if not _has_det_tokens(frame_columns):
        return [*keys, *DETECTION_COLUMNS, "flags", "artifact", "error"]
    # Pruning ViT detectors: their speed-ups matter most; the protocol median (untrained weights, so untrained
    # token selectors) least, so it goes first when the table must shrink (the rightmost goes first in its rank).
    keys.remove("median_ms")
    return [
        *keys,
        *DETECTION_COLUMNS,
        "det_backbone_speedup",
        "median_ms",
        "det_e2e_speedup",
        "flags",
        "artifact",
        "error",
    ]


def _has_det_tokens(frame_columns: list[str]) -> bool:
    return "det_e2e_speedup_median" in frame_columns


def display_columns(frame_columns: list[str]) -> list[str]:
    """The display columns a frame offers: detection ones for detection sweeps, speed-ups for pruning detectors."""
    detection = list(DETECTION_COLUMNS) if "map" in frame_columns else []
    return [*COLUMNS, *detection, *(DET_TOKEN_COLUMNS if _has_det_tokens(frame_columns) else [])]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def terminal_width() -> int:
    """The terminal's width; $COLUMNS when piped; else 80."""
    if sys.stdout.isatty():
        return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    value = os.environ.get("COLUMNS", "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_WIDTH


def choose_columns(cells: dict[str, list[str]], headers: dict[str, str], width: int) -> list[str]:
    """Drop the least important columns (highest priority number, rightmost first) until the table fits."""
    keys = list(cells)

    def table_width(chosen: list[str]) -> int:
        # rich's default box: "│ " before each cell, " " after it, a final "│".
        return sum(max([len(headers[k]), *map(len, cells[k])]) + 3 for k in chosen) + 1

    while len(keys) > 1 and table_width(keys) > width:
        worst = max(range(len(keys)), key=lambda i: (_priority(keys[i]), i))
        keys.pop(worst)
    return keys


def _priority(key: str) -> int:
    return ALL_COLUMNS[key].priority if key in ALL_COLUMNS else 9


def parse_columns(text: str | None, frame_columns: list[str]) -> list[str] | None:
    """The --columns list, each a display column or a results-frame column; unknown names exit 2."""
    if text is None:
        return None
    from hwbench.config import raise_errors
    from hwbench.registry import unknown_name_message

    wanted = [c.strip() for c in text.split(",") if c.strip()]
    offered = display_columns(frame_columns)
    valid = [*offered, *(c for c in frame_columns if c not in offered)]
    errors = [
        ConfigError(None, "--columns", unknown_name_message("column", c, valid)) for c in wanted if c not in valid
    ]
    if not wanted:
        errors.append(ConfigError(None, "--columns", "give at least one column, e.g. space,target,median_ms"))
    raise_errors(errors)
    return wanted


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="Sweep name.")],
    store: StoreOpt = DEFAULT_STORE,
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    accuracy: Annotated[bool, typer.Option("--accuracy", help="List the sweep's accuracy records instead.")] = False,
    format: Annotated[str, typer.Option("--format", help="table, csv, json or markdown (to stdout).")] = "table",
    columns: Annotated[
        str | None, typer.Option(help="Comma-separated columns (a display column or any results-table column).")
    ] = None,
) -> None:
    """Print the results table of a sweep (fitted to the terminal; CoV in %; disturbed and unconverged marked)."""
    from hwbench.analysis.table import require_rows, results_frame
    from hwbench.store import Store

    if format not in FORMATS:
        raise ConfigError(None, "--format", f"expected one of {', '.join(FORMATS)}, got {format!r}")
    if accuracy:
        from hwbench.cli.accuracy_records import show_accuracy

        show_accuracy(Store(store, create=False), name)
        return
    from hwbench.analysis.modelled import modelled_frame
    from hwbench.cli.show_modelled import print_modelled

    db = Store(store, create=False)
    frame = results_frame(db, [name])
    modelled = modelled_frame(db, [name])  # modelled targets: their own rows, kind modelled, never in `frame`
    if modelled.empty:
        require_rows(frame, [name])
    chosen = parse_columns(columns, list(frame.columns))
    if target:
        frame = frame[frame["target"] == target]
        modelled = modelled[modelled["target"] == target]
    if format in ("csv", "json"):
        _write_data(frame, chosen, format, modelled)
        return
    width = terminal_width()
    if frame.empty and len(modelled):
        print_modelled(modelled, width, format == "markdown")
        return
    records = frame.to_dict("records")
    keys = chosen or default_columns(list(frame.columns))
    headers = {k: ALL_COLUMNS[k].header if k in ALL_COLUMNS else k for k in keys}
    cells = {k: [ALL_COLUMNS[k].cell(r) if k in ALL_COLUMNS else _plain(r.get(k)) for r in records] for k in keys}
    if chosen is None:  # the default view drops empty columns, then fits the width
        cells = {k: v for k, v in cells.items() if k not in OPTIONAL or any(c not in ("", "–") for c in v)}
    if format == "markdown":
        _print_markdown([headers[k] for k in cells], [[cells[k][i] for k in cells] for i in range(len(records))])
        if len(modelled):
            print_modelled(modelled, width, True)
        return
    shown = choose_columns(cells, headers, width) if chosen is None else list(cells)
    rows = [tuple(cells[k][i] for k in shown) for i in range(len(records))]
    print_table([headers[k] for k in shown], rows, width)
    hidden = [k for k in cells if k not in shown]
    if hidden:
        _note(
            f"({len(hidden)} columns hidden to fit {width} columns: {', '.join(hidden)}; --columns or --format)", width
        )
    if any(cells.get("flags", [])):
        reference = (
            "ref. = a reference network (sweep --reference), measured at the sweep's resolution and classes and part "
            "of no block; "
            if "reference" in frame and frame["reference"].astype(bool).any()
            else ""
        )
        slower = (
            "slower = a pruning detector slower than its dense counterpart end to end; "
            if any("slower" in c for c in cells["flags"])
            else ""
        )
        _note(
            f"flags: {reference}{slower}dist. = other processes or a drifting canary disturbed the measurement and a "
            "re-measurement could not clear it (docs/measurement.md); not conv. = stopped at its run/time cap before "
            "its precision goal",
            width,
        )
    _detection_note(frame, [k for k in shown if k in DETECTION_COLUMNS or k == "median_ms"], width)
    if any(k in shown for k in ("map_ci", "artifact_map_ci")):
        artifact = "; artifact mAP: the exported artifact scored on the target" if "artifact_map" in shown else ""
        _note(
            "mAP 95% CI: bootstrap over the test images (the uncertainty from scoring on a finite set of images, not "
            f"the variance over training seeds){artifact}",
            width,
        )
    if any(k in shown for k in DET_TOKEN_COLUMNS):
        _note(SPEEDUP_NOTE, width)
        if shift := speed_shift_note(records):
            _note(shift, width)
    show_token_comparison(frame, width, _note)
    if len(modelled):
        print_modelled(modelled, width, False)


def _detection_note(frame: Any, shown: list[str], width: int) -> None:
    """What the latencies of a detection table are: the protocol's graph, and the parts timed on real images."""
    if "det_e2e_ms" not in frame or not any(k.startswith(("det_", "nms_")) for k in shown):
        return
    images = frame["det_images"].dropna()
    placements = sorted(frame["nms_placement"].dropna().unique())
    where = " and ".join({"host": "on the host (numpy)", "graph": "in the graph"}.get(p, p) for p in placements)
    _note(
        "median ms: the graph (backbone + head + box decoding) under the measurement protocol, untrained weights; "
        f"graph / NMS / e2e ms: trained weights, median over {int(images.max()) if len(images) else 'no'} test "
        f"images at batch 1, NMS {where or 'not timed'}; NMS share = NMS / e2e",
        width,
    )


def _note(text: str, width: int) -> None:
    """A footnote wrapped to the table's width."""
    import textwrap

    typer.echo(textwrap.fill(text, width=max(width, 20)))


def _plain(value: Any) -> str:
    if _missing(value):
        return "–"
    return num(value) if isinstance(value, float) else str(value)


def _write_data(frame: Any, chosen: list[str] | None, fmt: str, modelled: Any = None) -> None:
    """Raw values (no rounding; cov as a fraction) of the chosen columns, as CSV or JSON records; modelled rows
    (if any) follow the measured ones, and then every row says its kind (measured or modelled)."""
    frame = frame.copy()
    frame["flags"] = [flags(r) for r in frame.to_dict("records")]
    names: list[str] = []
    for key in chosen or default_columns(list(frame.columns)):
        raw = ALL_COLUMNS[key].raw if key in ALL_COLUMNS else (key,)
        for col in (*raw, "flags") if key == "flags" else raw:
            if col in frame.columns and col not in names:
                names.append(col)
    out = frame[names]
    if modelled is not None and len(modelled):
        from hwbench.cli.show_modelled import with_kind

        out = with_kind(out, modelled, names)
    if fmt == "csv":
        sys.stdout.write(out.to_csv(index=False))
    else:
        sys.stdout.write(json.dumps(json.loads(out.to_json(orient="records")), indent=1) + "\n")


def _print_markdown(headers: list[str], rows: list[list[str]]) -> None:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    typer.echo("\n".join([line(headers), "|" + "|".join("---" for _ in headers) + "|", *map(line, rows)]))
