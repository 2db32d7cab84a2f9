"""Checks of a `runner: zigzag` target file beyond its schema: values, files, and what a modelled target lacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwbench.errors import ConfigError

# Sections of a target file that only a timed target has.
TIMED_ONLY = ("measurement", "nms", "agent", "ray_resource", "evaluate_accuracy")


def raw_errors(data: dict[str, Any], path: Path) -> list[ConfigError]:
    """Faults of the raw mapping: a timed-only section, threads other than 1, a transport other than local."""
    errors = [
        ConfigError(path, key, "a modelled target is not timed: remove this section")
        for key in TIMED_ONLY
        if key in data
    ]
    if "threads" in data and data["threads"] != 1:
        why = "ZigZag runs in one thread; runner_options.workers models networks side by side"
        errors.append(ConfigError(path, "threads", f"a modelled target takes threads: 1 ({why})"))
    if data.get("transport", "local") != "local":
        errors.append(ConfigError(path, "transport", "a modelled target runs here (transport: local)"))
    export = data.get("export")
    if isinstance(export, dict) and export.get("format") not in (None, "onnx"):
        errors.append(ConfigError(path, "export.format", "a modelled target's workload is the ONNX graph: use onnx"))
    if isinstance(export, dict) and export.get("precision", "fp32") != "fp32":
        why = "ZigZag reads shapes and costs its own operand precision (8-bit by default), so export fp32"
        errors.append(ConfigError(path, "export.precision", why))
    return errors


def option_errors(options: dict[str, Any], path: Path) -> list[ConfigError]:
    """Faults of validated runner options: clock, workers, accelerator and mapping files (ZigZag judges contents)."""
    from hwbench.modelled import missing_reason
    from hwbench.modelled.accelerators import check_files

    reason = missing_reason()  # e.g. Python 3.10, or the accel extra not installed: said before anything runs
    errors = [ConfigError(path, "runner", reason)] if reason else []
    if not options["clock_mhz"] > 0:
        errors.append(ConfigError(path, "runner_options.clock_mhz", f"must be above 0, got {options['clock_mhz']}"))
    if options["workers"] < 1:
        errors.append(ConfigError(path, "runner_options.workers", f"must be at least 1, got {options['workers']}"))
    return errors + check_files(options, path)
