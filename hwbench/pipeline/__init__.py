"""The sweep pipeline: one module per stage; stages talk only through the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwbench.config.target import Target, load_target
from hwbench.progress import NullProgress, Progress
from hwbench.space.design_space import DesignSpace, load_space
from hwbench.store import Store


@dataclass(frozen=True)
class SweepRequest:
    """Everything `hwbench sweep` was asked to do."""

    name: str
    spaces: list[Path]
    targets: list[Path]
    n: int = 4
    seed: int = 0
    store: Path = Path("results/hwbench.sqlite")
    artifacts: Path | None = None  # default: <store dir>/artifacts
    workers: int | None = None  # export worker processes; default: CPU count
    export_timeout: float = 900.0
    retry_errors: bool = False
    report: bool = True
    report_dir: Path | None = None  # default: <store dir>/<name>
    # Accuracy (see docs/accuracy.md): no dataset, no training.
    dataset: str | None = None  # NAME[:PATH], e.g. "digits" or "cifar10:/data/cifar-10-batches-py"
    schedule: str | Path = "short"  # a built-in schedule name or a file
    download: bool = False  # fetch a missing standard dataset (never done unless asked)
    train_seed: int | None = None  # default: the schedule's seed
    train_workers: int | None = None  # default: one per core on CPU, one on CUDA
    train_timeout: float = 3600.0
    train_device: str = "auto"  # auto (CUDA when present) | cpu | cuda
    eval_artifacts: str = "auto"  # auto (each target's switch: int8 targets) | all | none
    # Which stage to run (each resumes from the store; see docs/cluster.md) and where its jobs run.
    stage: str = "all"  # all | export | measure | train
    executor: str = "auto"  # auto (ray when ray_address or RAY_ADDRESS is set) | local | ray
    ray_address: str | None = None

    @property
    def artifact_dir(self) -> Path:
        """Where artifacts are stored by content hash."""
        return self.artifacts or self.store.parent / "artifacts"

    @property
    def weights_dir(self) -> Path:
        """Where trained state_dicts are kept, by accuracy key."""
        return self.store.parent / "weights"

    @property
    def output_dir(self) -> Path:
        """Where the report of this sweep goes."""
        return self.report_dir or self.store.parent / self.name


@dataclass
class Plan:
    """A validated request: loaded spaces and targets (loading fails before the store is touched)."""

    request: SweepRequest
    spaces: list[DesignSpace]
    targets: list[Target]
    counts: dict[str, int] = field(default_factory=dict)
    training: Any = None  # hwbench.pipeline.train.TrainingPlan when a dataset was given


def plan_sweep(request: SweepRequest) -> Plan:
    """Load and validate every option, space and target file; raise one ConfigError listing every fault."""
    from hwbench.config import raise_errors, split_errors
    from hwbench.errors import ConfigError

    errors = _option_errors(request)
    spaces: list[DesignSpace] = []
    targets: list[Target] = []
    for paths, load, into in ((request.spaces, load_space, spaces), (request.targets, load_target, targets)):
        for path in paths:
            try:
                into.append(load(path))  # type: ignore[operator]
            except ConfigError as exc:
                errors += split_errors(exc)
    for target in targets:
        if target.agent is not None:
            try:
                _check_token(target)
            except ConfigError as exc:
                errors.append(exc)
    for kind, items in (("space", spaces), ("target", targets)):
        names = [i.name for i in items]
        for dupe in sorted({n for n in names if names.count(n) > 1}):
            errors.append(ConfigError(None, f"--{kind}", f"two {kind}s share the name {dupe!r}"))
    raise_errors(errors)
    plan = Plan(request, spaces, targets)
    if request.dataset is not None:
        from hwbench.pipeline.train import plan_training

        plan.training = plan_training(request, spaces, targets)
    return plan


def _option_errors(request: SweepRequest) -> list[Any]:
    """Command-line values the files do not cover: counts, seeds, names."""
    from hwbench.errors import ConfigError

    errors = []
    if not request.spaces:
        errors.append(ConfigError(None, "--space", "give at least one design space"))
    if not request.targets:
        errors.append(ConfigError(None, "--target", "give at least one target"))
    if request.n < 1:
        errors.append(ConfigError(None, "--n", f"must be at least 1, got {request.n}"))
    # numpy seeds are non-negative integers; a negative one would fail deep inside sampling.
    for option, value in (("--seed", request.seed), ("--train-seed", request.train_seed)):
        if value is not None and not 0 <= value < 2**63:
            errors.append(ConfigError(None, option, f"must be an integer from 0 to 2^63-1, got {value}"))
    if not request.name.strip():
        errors.append(ConfigError(None, "--name", "must not be empty"))
    return errors


def run_sweep(request: SweepRequest, progress: Progress | None = None) -> dict[str, int]:
    """Sample → export → measure → train → report. Re-running the same request resumes; nothing is redone.

    Validation and sampling (which can fail on an infeasible constraint) finish before the store is opened, so
    bad input never leaves a trace there. Training runs after measuring (never beside it): latency results are
    complete before the longest stage starts, and an interrupted training keeps every measurement.
    """
    from hwbench.pipeline.export import export_stage
    from hwbench.pipeline.measure import measure_stage
    from hwbench.pipeline.sample import draw_samples, record_samples
    from hwbench.pipeline.train import training_stage

    ui = progress or NullProgress()
    plan = plan_sweep(request)
    archs = draw_samples(plan, ui)
    store = Store(request.store)
    try:
        record_samples(plan, archs, store)
        export_stage(plan, archs, store, ui)
        measure_stage(plan, archs, store, ui)
        training_stage(plan, archs, store, ui)
        if request.report:
            from hwbench.report import write_report

            path = write_report(store, [request.name], request.output_dir)
            ui.note(f"report: {path}")
    finally:
        store.close()
    return plan.counts


def _check_token(target: Target) -> None:
    """An agent target whose token cannot be read is a setup error: say so before anything runs."""
    from hwbench.agent.wire import TokenError
    from hwbench.errors import ConfigError

    assert target.agent is not None
    try:
        target.agent.token()
    except TokenError as exc:
        key = "agent.token_file" if target.agent.token_file else "agent.token_env"
        raise ConfigError(target.source, key, str(exc)) from None
