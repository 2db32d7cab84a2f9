"""Target files: a runner, an export profile, measurement settings and where the runtime lives."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from hwbench.config.loading import Strict, load_yaml, parse_model
from hwbench.errors import ConfigError, UnknownNameError
from hwbench.measure.timing import Protocol


class MeasurementSettings(Strict):
    """The timing protocol (see hwbench.measure.timing.Protocol) plus the input used."""

    warmup_runs: int = Field(10, ge=0)
    warmup_seconds: float = Field(0.2, ge=0)
    min_runs: int = Field(20, ge=2)
    # A floor so sub-millisecond models are still timed over some wall time (timer and scheduler noise).
    min_seconds: float = Field(0.1, ge=0)
    max_runs: int = Field(10_000, ge=2)
    max_seconds: float = Field(20.0, gt=0)
    rel_ci: float = Field(0.01, gt=0, lt=1)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    cooldown_seconds: float = Field(0.0, ge=0)
    # Seed of the random input; part of the settings, so a different input is a different measurement.
    input_seed: int = 0

    @model_validator(mode="after")
    def _ordered(self) -> MeasurementSettings:
        if self.min_runs > self.max_runs:
            raise ValueError(f"min_runs {self.min_runs} is above max_runs {self.max_runs}")
        return self

    def protocol(self) -> Protocol:
        """The measure-side protocol (a plain dataclass the agent can use without pydantic)."""
        fields = set(Protocol.__dataclass_fields__)
        return Protocol(**{k: v for k, v in self.model_dump().items() if k in fields})


class ExportProfile(Strict):
    """Which artifact a target runs: format, precision and the exporter's own knobs."""

    model_config = ConfigDict(extra="allow", frozen=True)

    format: str
    precision: Literal["fp32", "fp16", "int8"] = "fp32"

    def options(self) -> dict[str, Any]:
        """The exporter-specific keys (everything but format and precision)."""
        return dict(self.model_extra or {})


class TargetFile(Strict):
    """The YAML schema of a target."""

    name: str | None = None
    description: str = ""
    runner: str
    threads: int = Field(ge=1, le=1024)
    export: ExportProfile
    measurement: MeasurementSettings = MeasurementSettings()
    runner_options: dict[str, Any] = {}
    transport: Literal["local"] = "local"
    # Evaluate the accuracy of this target's artifact (built from the trained weights) through its runtime,
    # when the sweep trains. Default (null): only for int8 targets, where quantization can cost accuracy.
    evaluate_accuracy: bool | None = None


@dataclass(frozen=True)
class Target:
    """A validated target."""

    name: str
    description: str
    source: Path
    runner: str
    threads: int
    export_format: str
    precision: str
    export_options: dict[str, Any]
    runner_options: dict[str, Any]
    measurement: MeasurementSettings
    transport: str = "local"
    evaluate_accuracy: bool = False

    def profile(self) -> dict[str, Any]:
        """The export profile as a canonical dict (exporter defaults filled in)."""
        return {"format": self.export_format, "precision": self.precision, **self.export_options}

    def config(self) -> dict[str, Any]:
        """Everything that defines the target, for the store."""
        data = asdict(self)
        data["source"] = str(self.source)
        data["measurement"] = self.measurement.model_dump()
        return data


def load_target(path: str | Path) -> Target:
    """Load and validate a target file: runner, exporter and their options all checked."""
    from hwbench.export import get_exporter
    from hwbench.runners import get_runner

    path = Path(path)
    file = parse_model(TargetFile, load_yaml(path), path)
    try:
        runner = get_runner(file.runner)
    except UnknownNameError as exc:
        raise ConfigError(path, "runner", str(exc)) from None
    try:
        exporter = get_exporter(file.export.format)
    except UnknownNameError as exc:
        raise ConfigError(path, "export.format", str(exc)) from None
    if runner.format != exporter.format:
        raise ConfigError(
            path,
            "export.format",
            f"runner {runner.name!r} runs {runner.format!r} artifacts, not {exporter.format!r}",
        )
    if file.export.precision not in exporter.precisions:
        raise ConfigError(
            path,
            "export.precision",
            f"{exporter.format} export supports {', '.join(exporter.precisions)}, not {file.export.precision!r}",
        )
    export_options = parse_model(exporter.options, file.export.options(), path, "export").model_dump(mode="json")
    runner_options = _validate_dataclass(runner.options, file.runner_options, path, "runner_options")
    return Target(
        name=file.name or path.stem,
        description=file.description,
        source=path,
        runner=file.runner,
        threads=file.threads,
        export_format=file.export.format,
        precision=file.export.precision,
        export_options=export_options,
        runner_options=runner_options,
        measurement=file.measurement,
        transport=file.transport,
        evaluate_accuracy=file.export.precision == "int8" if file.evaluate_accuracy is None else file.evaluate_accuracy,
    )


def _validate_dataclass(cls: type, data: dict[str, Any], path: Path, prefix: str) -> dict[str, Any]:
    """Validate runner options (a stdlib dataclass, so the runner stays pydantic-free) and fill defaults."""
    try:
        value = TypeAdapter(cls).validate_python(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in (prefix, *err["loc"]))
        msg = "unknown key" if err["type"] in ("extra_forbidden", "unexpected_keyword_argument") else err["msg"]
        raise ConfigError(path, loc, msg) from None
    return asdict(value)
