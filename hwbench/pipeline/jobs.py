"""Typed, frozen stage jobs and their JSON-safe wire form (what worker processes, Ray actors and the agent read).

The pipeline builds and passes these; a worker function receives `job.wire()`, a plain dict of JSON values, so
the same job crosses a process pool, a Ray cluster or the board agent's HTTP API unchanged. Optional fields that
are unset stay off the wire (a worker tests for their presence).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, NamedTuple


def _wire(job: Any, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """The job's fields as a dict, without pipeline-only fields and unset optional ones."""
    out = {f.name: getattr(job, f.name) for f in dataclasses.fields(job) if f.name not in leave_out}
    return {k: v for k, v in out.items() if v is not None}


class _Wired:
    """Shared wire helpers: `wire()` and a round trip through JSON (tests check every job survives it)."""

    PIPELINE_ONLY: tuple[str, ...] = ()

    def wire(self) -> dict[str, Any]:
        """The JSON-safe dict a worker function reads."""
        return _wire(self, self.PIPELINE_ONLY)

    def json(self) -> str:
        """The wire form as JSON text (what crosses a process, node or network boundary)."""
        return json.dumps(self.wire(), sort_keys=True)


@dataclass(frozen=True)
class ExportJob(_Wired):
    """Export one network under one profile (hwbench.export.job.run_export)."""

    spec_json: str
    arch_id: str
    format: str
    precision: str
    options: dict[str, Any]
    profile: dict[str, Any]  # the keyed profile, recorded with the export
    artifact_dir: str
    token_form: str = "auto"
    calibration: dict[str, Any] | None = None
    token_inputs: dict[str, Any] | None = None  # images a data-dependent ViT is prepared on
    threads: int = 1
    base_key: str | None = None  # a derived export (int8) starts from this export's artifact
    base_error: str | None = None  # ... which failed: the job records that and does nothing
    context: dict[str, Any] | None = None  # ... which is here (its path and cost)
    weights: str | None = None  # trained weights (artifact accuracy); latency exports use seeded ones

    PIPELINE_ONLY = ("base_key",)

    def describe(self) -> str:
        """How a failed base export is named in its dependents' errors."""
        return f"{self.format} fp32" if self.precision != "fp32" else self.format


@dataclass(frozen=True)
class TrainJob(_Wired):
    """Train one network on the sweep's prepared dataset (hwbench.accuracy.trainer.train_job)."""

    spec_json: str
    schedule: dict[str, Any]
    data: dict[str, Any]
    weights_path: str
    threads: int
    device: str
    channels_last: bool = True


@dataclass(frozen=True)
class EvalJob(_Wired):
    """Export trained weights under a target's profile and score the artifact (accuracy.evaluate)."""

    acc_key: str
    export: dict[str, Any]  # an ExportJob's wire form, with `weights`
    runner: str
    runner_options: dict[str, Any]
    data: dict[str, Any]
    dataset_calibration: dict[str, Any]
    calibration_images: int
    token_inputs: bool
    threads: int = 1


class MeasureKeys(NamedTuple):
    """The records one measurement writes: its key, the export it timed, the artifact's hash, the network."""

    measure_key: str
    export_key: str
    artifact_hash: str
    arch_id: str


@dataclass(frozen=True)
class MeasureJob(_Wired):
    """Time one artifact on one target (hwbench.runners.local.measure_artifact, or the board agent)."""

    runner: str
    path: str
    threads: int
    options: dict[str, Any]
    protocol: dict[str, Any]
    keys: MeasureKeys
    seed: int | None = None
    inputs_path: str | None = None  # images timed one by one (per-image latency), local runners only
    inputs_source: str | None = None

    PIPELINE_ONLY = ("keys",)

    def round_job(self, protocol: dict[str, Any], first_round: bool) -> dict[str, Any]:
        """The wire form of one round: its protocol; per-image latency only in the first round."""
        wire = {**self.wire(), "protocol": protocol}
        if not first_round:
            wire.pop("inputs_path", None)
            wire.pop("inputs_source", None)
        return wire
