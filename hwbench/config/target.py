"""Target files: a runner, an export profile, measurement settings and where the runtime lives."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from hwbench.config.agent import AgentSettings, check_transport, refuse_secrets
from hwbench.config.loading import Strict, load_yaml, parse_model, raise_errors, split_errors, validation_errors
from hwbench.errors import ConfigError, UnknownNameError
from hwbench.measure.rounds import ROUNDS
from hwbench.measure.timing import MIN_RUNS, Protocol, min_runs_for
from hwbench.modelled import is_modelled


class MeasurementSettings(Strict):
    """The timing protocol (see hwbench.measure.timing.Protocol) plus the input used."""

    warmup_runs: int = Field(10, ge=0)
    warmup_seconds: float = Field(0.2, ge=0)
    min_runs: int = Field(20, ge=MIN_RUNS)  # fewer runs cannot give the median a 95% interval
    # A floor so sub-millisecond models are still timed over some wall time (timer and scheduler noise).
    min_seconds: float = Field(0.1, ge=0)
    max_runs: int = Field(10_000, ge=2)
    max_seconds: float = Field(20.0, gt=0)
    rel_ci: float = Field(0.01, gt=0, lt=1)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    cooldown_seconds: float = Field(0.0, ge=0)
    # Wait before each network until the hottest thermal zone (or those matching cooldown_zone) is at or
    # below this temperature, for at most cooldown_timeout_s (default 300 s). Unset: no thermal wait.
    cooldown_below_c: float | None = Field(None, gt=0, lt=150)
    cooldown_timeout_s: float | None = Field(None, gt=0)
    cooldown_zone: str | None = None
    # Seed of the random input; part of the settings, so a different input is a different measurement.
    input_seed: int = 0
    # Timed windows per network, interleaved across networks (measure/rounds.py). Between-round variation dominates
    # on shared machines, so more rounds, not more runs per round, is what narrows the stored interval there.
    rounds: int = Field(ROUNDS, ge=2, le=20)

    @model_validator(mode="after")
    def _ordered(self) -> MeasurementSettings:
        if self.min_runs > self.max_runs:
            raise ValueError(f"min_runs {self.min_runs} is above max_runs {self.max_runs}")
        need = min_runs_for(self.confidence)
        if self.min_runs < need:
            raise ValueError(f"min_runs {self.min_runs} is below {need}, the fewest for a {self.confidence:.0%} CI")
        return self

    def protocol(self) -> Protocol:
        """The measure-side protocol (a plain dataclass the agent can use without pydantic)."""
        fields = set(Protocol.__dataclass_fields__)
        return Protocol(**{k: v for k, v in self.settings().items() if k in fields})

    def settings(self) -> dict[str, Any]:
        """The settings as they key a measurement (unset optional settings omitted)."""
        # Omitting unset optional settings keeps the keys of measurements stored before they existed.
        return self.model_dump(exclude_none=True)


class ExportProfile(Strict):
    """Which artifact a target runs: format, precision and the exporter's own knobs."""

    model_config = ConfigDict(extra="allow", frozen=True)

    format: str
    precision: Literal["fp32", "fp16", "int8"] = "fp32"
    # How token-reduced ViTs are computed in the artifact, for every format (docs/vit.md): a form name, or
    # a mapping block → form; "auto" takes each block's best form for the format. Other networks ignore it.
    token_form: str | dict[str, str] = "auto"

    @field_validator("token_form")
    @classmethod
    def _known_form(cls, value: str | dict[str, str]) -> str | dict[str, str]:
        from hwbench.blocks.tokens import check_setting

        check_setting(value)
        return value

    def options(self) -> dict[str, Any]:
        """The exporter-specific keys (everything but format, precision and token_form)."""
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
    transport: Literal["local", "agent", "ray-node"] = "local"
    agent: AgentSettings | None = None
    # transport: ray-node — the Ray custom resource that names the cluster node measuring this target
    # (`ray start --resources '{"<name>": 1}'` on that node); measured there with the whole node to itself.
    ray_resource: str | None = Field(None, min_length=1)
    # Evaluate the accuracy of this target's artifact (built from the trained weights) through its runtime,
    # when the sweep trains. Default (null): only for int8 targets, where quantization can cost accuracy.
    evaluate_accuracy: bool | None = None
    # Detectors: post-processing settings (score/IoU thresholds, pre-NMS top-k, max detections, placement host |
    # graph); part of the key of every detection timing on this target (docs/detection.md).
    nms: dict[str, Any] = {}


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
    agent: AgentSettings | None = None
    ray_resource: str | None = None
    evaluate_accuracy: bool = False
    token_form: str | dict[str, str] = "auto"
    nms: dict[str, Any] = field(default_factory=dict)  # as written in the file (validated); {}: the defaults

    @property
    def modelled(self) -> bool:
        """An analytical accelerator model (hwbench.modelled) rather than a timed runtime: nothing is timed."""
        return is_modelled(self.runner)

    def profile(self) -> dict[str, Any]:
        """The export profile as a canonical dict (exporter defaults filled in; token_form unless auto)."""
        tokens = {} if self.token_form == "auto" else {"token_form": self.token_form}
        return {"format": self.export_format, "precision": self.precision, **tokens, **self.export_options}

    def config(self) -> dict[str, Any]:
        """Everything that defines the target, for the store."""
        data = asdict(self)
        data["source"] = str(self.source)
        data["measurement"] = self.measurement.settings()
        data["agent"] = self.agent.model_dump() if self.agent else None
        if not self.nms:  # targets without NMS settings keep the configuration they were stored with
            data.pop("nms")
        return data


def load_target(path: str | Path) -> Target:
    """Load and validate a target file: runner, exporter and their options all checked; every fault reported."""
    path = Path(path)
    data = load_yaml(path)
    refuse_secrets(data, path)
    modelled = _modelled_raw_errors(data, path)
    if modelled is not None:
        data = {"threads": 1, **data}  # a modelled target runs ZigZag in one thread: the key may be left out
    errors = validation_errors(TargetFile, data, path) + (modelled or [])
    # Names pydantic cannot judge (runner, export format) are checked even in a file with other faults.
    errors += _name_errors(data, path)
    if errors:
        raise_errors(errors)
    file = TargetFile.model_validate(data)
    check_transport(file, path)
    return _build_target(file, path)


def _name_errors(data: dict[str, Any], path: Path) -> list[ConfigError]:
    """Unknown runner or export format, and a runner/format mismatch, from the raw mapping."""
    from hwbench.export import get_exporter
    from hwbench.runners import get_runner

    errors: list[ConfigError] = []
    runner = exporter = None
    if isinstance(data.get("runner"), str) and not is_modelled(data["runner"]):
        try:
            runner = get_runner(data["runner"])
        except UnknownNameError as exc:
            errors.append(ConfigError(path, "runner", str(exc)))
    export = data.get("export")
    if isinstance(export, dict) and isinstance(export.get("format"), str):
        try:
            exporter = get_exporter(export["format"])
        except UnknownNameError as exc:
            errors.append(ConfigError(path, "export.format", str(exc)))
    if runner is not None and exporter is not None and runner.format != exporter.format:
        msg = f"runner {runner.name!r} runs {runner.format!r} artifacts, not {exporter.format!r}"
        errors.append(ConfigError(path, "export.format", msg))
    return errors


def _build_target(file: TargetFile, path: Path) -> Target:
    """The Target of a schema-valid file: exporter precision and options, runner options."""
    from hwbench.export import ProfileError, get_exporter
    from hwbench.runners import get_runner

    options_type = _modelled_options() if is_modelled(file.runner) else get_runner(file.runner).options
    exporter = get_exporter(file.export.format)
    errors: list[ConfigError] = []
    if file.export.precision not in exporter.precisions:
        supported = ", ".join(exporter.precisions)
        errors.append(
            ConfigError(
                path,
                "export.precision",
                f"{exporter.format} export supports {supported}, not {file.export.precision!r}",
            )
        )
    parsed = None
    try:
        parsed = parse_model(exporter.options, file.export.options(), path, "export")
    except ConfigError as exc:
        errors += split_errors(exc)
    runner_options: dict[str, Any] = {}
    try:
        runner_options = _validate_dataclass(options_type, file.runner_options, path, "runner_options")
    except ConfigError as exc:
        errors += split_errors(exc)
    if runner_options and is_modelled(file.runner):
        from hwbench.modelled.config import option_errors

        errors += option_errors(runner_options, path)
    errors += _nms_errors(file, path)
    raise_errors(errors)
    try:
        export_options = exporter.canonical_options(file.export.precision, parsed)
    except ProfileError as exc:
        raise ConfigError(path, f"export.{exc.key}", str(exc)) from None
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
        agent=file.agent,
        ray_resource=file.ray_resource,
        evaluate_accuracy=file.export.precision == "int8" if file.evaluate_accuracy is None else file.evaluate_accuracy,
        token_form=file.export.token_form,
        nms=dict(file.nms),
    )


def _nms_errors(file: TargetFile, path: Path) -> list[ConfigError]:
    """NMS settings that validate, and an in-graph placement only where the format has an NMS operator."""
    from hwbench.postprocess.nms import NmsSettings

    if not file.nms:
        return []
    try:
        settings = NmsSettings.from_dict(file.nms, path)
    except ConfigError as exc:
        return [exc]
    if settings.placement == "graph" and file.export.format != "onnx":
        why = "litert-torch cannot lower NMS and TFLite has no NMS operator it could run in the graph"
        return [ConfigError(path, "nms.placement", f"graph placement needs an ONNX artifact ({why}); use host")]
    return []


def _validate_dataclass(cls: type, data: dict[str, Any], path: Path, prefix: str) -> dict[str, Any]:
    """Validate runner options (a stdlib dataclass, so the runner stays pydantic-free) and fill defaults."""
    try:
        value = TypeAdapter(cls).validate_python(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in (prefix, *err["loc"]))
            unknown = err["type"] in ("extra_forbidden", "unexpected_keyword_argument")
            errors.append(ConfigError(path, loc, "unknown key" if unknown else err["msg"]))
        raise_errors(errors)
    return asdict(value)


def _modelled_options() -> type:
    from hwbench.modelled.options import ZigzagOptions

    return ZigzagOptions


def _modelled_raw_errors(data: dict[str, Any], path: Path) -> list[ConfigError] | None:
    """The faults only a modelled target can have (None for a timed target)."""
    if not isinstance(data.get("runner"), str) or not is_modelled(data["runner"]):
        return None
    from hwbench.modelled.config import raw_errors

    return raw_errors(data, path)
