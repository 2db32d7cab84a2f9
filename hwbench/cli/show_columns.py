"""`hwbench show`'s columns: what each shows, which are shown by default, and which fit the terminal's width."""

from __future__ import annotations

import math
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hwbench.cli.show_tokens import (
    DET_SPEEDUP_PARTS,
    slower_detector,
    speedup_cell,
    speedup_raw,
)
from hwbench.cli.text import num, num_range, pct
from hwbench.errors import ConfigError

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
    return "–" if missing(r.get("ci_low_ms")) else f"{num(r['ci_low_ms'])}–{num(r['ci_high_ms'])}"


def _cov(r: dict[str, Any]) -> str:
    """CoV as a percentage, as the report shows it."""
    return "–" if missing(r.get("cov")) else f"{100 * float(r['cov']):.1f}%"


def flags(r: dict[str, Any]) -> str:
    """Marks a reader must not miss: a reference network, a disturbed measurement, one that stopped before its
    precision goal."""
    marks = ["ref."] if r.get("reference") else []
    if r.get("disturbed") is True or r.get("disturbed") == 1:
        marks.append("dist.")
    if r.get("status") == "ok" and not missing(r.get("converged")) and not bool(r.get("converged")):
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
    return "–" if missing(low) or missing(high) else f"{100 * float(low):.1f}–{pct(high)}"


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


def missing(value: Any) -> bool:
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
