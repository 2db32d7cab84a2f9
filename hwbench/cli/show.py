"""`hwbench show`: a sweep's results as a table fitted to the terminal, or as CSV, JSON or Markdown on stdout."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from hwbench.cli.common import DEFAULT_STORE, StoreOpt, app
from hwbench.cli.show_columns import (
    ALL_COLUMNS,
    DET_TOKEN_COLUMNS,
    DETECTION_COLUMNS,
    OPTIONAL,
    choose_columns,
    default_columns,
    flags,
    missing,
    parse_columns,
    terminal_width,
)
from hwbench.cli.show_tokens import (
    SPEEDUP_NOTE,
    show_token_comparison,
    speed_shift_note,
)
from hwbench.cli.text import num, print_table
from hwbench.errors import ConfigError

FORMATS = ("table", "csv", "json", "markdown")


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
    if missing(value):
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
