"""A modelled target's job for one ONNX file, as the sweep builds it (effort lowered for tests)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from hwbench.config.target import load_target
from hwbench.pipeline.modelled import ModelledTarget


def modelled_target(path: Path, effort: str = "lowest") -> ModelledTarget:
    """A target file's ModelledTarget at the given effort."""
    target = load_target(path)
    target = replace(target, runner_options={**target.runner_options, "effort": effort})
    return ModelledTarget.of(target)


def job_for(mt: ModelledTarget, onnx: Path, cached: dict[str, Any] | None = None) -> dict[str, Any]:
    """The worker job of one network on a modelled target."""
    return {
        "path": str(onnx),
        "accelerator": mt.accelerator,
        "mapping": mt.mapping,
        "mapping_names": list(mt.mapping_names),
        "optimise": mt.settings["optimise"],
        "effort": mt.settings["effort"],
        "clock_mhz": mt.settings["clock_mhz"],
        "scope": mt.scope(),
        "cached": cached or {},
    }
