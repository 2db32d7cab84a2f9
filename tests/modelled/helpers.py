"""A modelled target's job for one ONNX file, as the sweep builds it (effort lowered for tests)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hwbench.config.target import load_target
from hwbench.modelled.job import job_for
from hwbench.pipeline.modelled import ModelledTarget


def modelled_target(path: Path, effort: str = "lowest") -> ModelledTarget:
    """A target file's ModelledTarget at the given effort."""
    target = load_target(path)
    target = replace(target, runner_options={**target.runner_options, "effort": effort})
    return ModelledTarget.of(target)


__all__ = ["job_for", "modelled_target"]  # job_for: the shared builder, re-exported for the tests
