"""`hwbench import-accuracy NAME file.csv`: accuracies measured elsewhere, validated line by line.

Columns: arch_id, dataset, metric (top1 | top5), value, and optionally schedule and eval_images (how many images
the accuracy was measured on: it gives the accuracy its binomial interval; unknown if absent). Values are fractions in
[0, 1]; a value written with a percent sign (76.1%) is read as a percentage. Nothing is stored unless every
line is valid. Re-importing the same (arch_id, dataset, schedule) replaces the earlier import.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from hwbench.errors import ConfigError
from hwbench.store import Store

REQUIRED = ("arch_id", "dataset", "metric", "value")
OPTIONAL = ("schedule", "eval_images")
METRICS = ("top1", "top5")
DEFAULT_SCHEDULE = "imported"


@dataclass
class ImportedAccuracy:
    """One (network, dataset, schedule) with the metrics the file gives for it."""

    arch_id: str
    dataset: str
    schedule: str
    metrics: dict[str, float] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)
    eval_images: int | None = None


def parse_value(text: str, where: str) -> float:
    """A fraction in [0, 1], or a percentage written with '%'."""
    raw = text.strip()
    percent = raw.endswith("%")
    try:
        value = float(raw.rstrip("%").strip())
    except ValueError:
        raise ConfigError(where, "value", f"not a number: {text!r}") from None
    if percent:
        value /= 100.0
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        hint = f" (a percentage? write {raw}% or {value / 100:g})" if not percent and 1.0 < value <= 100.0 else ""
        raise ConfigError(where, "value", f"{text.strip()} is not a fraction in [0, 1]{hint}")
    return value


def parse_count(text: str, where: str, earlier: int | None) -> int:
    """A positive whole number of evaluation images, the same on every line of one network."""
    try:
        count = int(text)
    except ValueError:
        raise ConfigError(where, "eval_images", f"not a whole number: {text!r}") from None
    if count < 1:
        raise ConfigError(where, "eval_images", f"{count} is not a positive number of images")
    if earlier is not None and earlier != count:
        raise ConfigError(where, "eval_images", f"{count} differs from {earlier} on an earlier line of this network")
    return count


def read_accuracy_csv(path: Path, sweep: str, arch_ids: set[str]) -> list[ImportedAccuracy]:
    """Parse and validate the whole file; raise ConfigError naming the file and line of the first problem."""
    if not path.is_file():
        raise ConfigError(path, None, "file not found")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in columns]
        unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
        if missing or unknown:
            problem = (
                f"missing column(s) {', '.join(missing)}" if missing else f"unknown column(s) {', '.join(unknown)}"
            )
            raise ConfigError(
                path, "line 1", f"{problem}; expected {', '.join(REQUIRED)} (and optionally {', '.join(OPTIONAL)})"
            )
        records: dict[tuple[str, str, str], ImportedAccuracy] = {}
        seen: dict[tuple[str, str, str, str], int] = {}
        for row in reader:
            line = reader.line_num
            where = f"{path} line {line}"
            cells = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            if None in row:
                raise ConfigError(where, None, "more cells than columns")
            arch_id, dataset, metric = cells["arch_id"], cells["dataset"], cells["metric"].lower()
            schedule = cells.get("schedule") or DEFAULT_SCHEDULE
            if arch_id not in arch_ids:
                raise ConfigError(where, "arch_id", f"{arch_id!r} is not a network of sweep {sweep!r}")
            if not dataset:
                raise ConfigError(where, "dataset", "empty")
            if metric not in METRICS:
                raise ConfigError(where, "metric", f"expected one of {', '.join(METRICS)}, got {cells['metric']!r}")
            key = (arch_id, dataset, schedule, metric)
            if key in seen:
                raise ConfigError(where, None, f"repeats {metric} of {arch_id} on {dataset} (line {seen[key]})")
            seen[key] = line
            record = records.setdefault((arch_id, dataset, schedule), ImportedAccuracy(arch_id, dataset, schedule))
            record.metrics[metric] = parse_value(cells["value"], where)
            if cells.get("eval_images"):
                record.eval_images = parse_count(cells["eval_images"], where, record.eval_images)
            record.lines.append(line)
    if not records:
        raise ConfigError(path, None, "no accuracy rows")
    return list(records.values())


def import_accuracy(store: Store, sweep: str, path: Path) -> int:
    """Validate the file, then store one record per (network, dataset, schedule), linked to the sweep."""
    from hwbench.export.artifacts import file_hash
    from hwbench.store.keys import imported_accuracy_key

    store.require_sweeps([sweep])
    records = read_accuracy_csv(path, sweep, store.sweep_arch_ids(sweep))
    sha = file_hash(path)
    for r in records:
        key = imported_accuracy_key(r.arch_id, r.dataset, r.schedule)
        row = {
            "acc_key": key,
            "arch_id": r.arch_id,
            "dataset": r.dataset,
            "dataset_id": f"imported:{r.dataset}",
            "schedule": r.schedule,
            "schedule_hash": f"imported:{r.schedule}",
            "evaluated_on": "torch",
            "source": "imported",
            "status": "ok",
            "top1": r.metrics.get("top1"),
            "top5": r.metrics.get("top5"),
            "info_json": {
                "file": str(path),
                "sha256": sha,
                "lines": r.lines,
                **({"val_images": r.eval_images} if r.eval_images else {}),
            },
        }
        store.put_accuracy(row, None, [(sweep, r.arch_id)])
    return len(records)
