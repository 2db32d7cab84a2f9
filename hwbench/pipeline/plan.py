"""The validated sweep request and its typed plan: every option, space and target checked before anything runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from hwbench.config.target import Target, load_target
from hwbench.errors import ConfigError
from hwbench.pipeline.det_plan import DetTrainingPlan
from hwbench.pipeline.request import SweepRequest
from hwbench.pipeline.training_plan import TrainingPlan, plan_training
from hwbench.space.design_space import DesignSpace, load_space

STAGES = ("all", "export", "measure", "train")


@dataclass
class Plan:
    """A validated request: loaded spaces and targets (loading fails before the store is touched)."""

    request: SweepRequest
    spaces: list[DesignSpace]
    targets: list[Target]
    counts: dict[str, int] = field(default_factory=dict)
    training: TrainingPlan | DetTrainingPlan | None = None  # when a dataset was given
    references: list[DesignSpace] = field(default_factory=list)  # fixed specs at the spaces' shape (--reference)

    def runs(self, stage: str) -> bool:
        """Whether this sweep runs `stage` (sampling is part of the export stage)."""
        return self.request.stage in ("all", stage)


def plan_sweep(request: SweepRequest) -> Plan:
    """Load and validate every option, space and target file; raise one ConfigError listing every fault."""
    from hwbench.config import raise_errors, split_errors

    errors = _option_errors(request)
    spaces: list[DesignSpace] = []
    targets: list[Target] = []
    for paths, load, into in ((request.spaces, load_space, spaces), (request.targets, load_target, targets)):
        for path in paths:
            try:
                into.append(load(path))  # type: ignore[operator]
            except ConfigError as exc:
                errors += split_errors(exc)
    references, reference_errors = _references(request, spaces)
    errors += reference_errors
    for target in targets:
        if target.agent is not None:
            try:
                _check_token(target)
            except ConfigError as exc:
                errors.append(exc)
    if choose_safely(request) == "local":
        for target in targets:
            if target.transport == "ray-node":
                message = f"target {target.name!r} (transport: ray-node) is measured on a Ray node: use --executor ray"
                errors.append(ConfigError(target.source, "transport", message))
    for kind, items in (("space", spaces), ("target", targets)):
        names = [i.name for i in items]
        for dupe in sorted({n for n in names if names.count(n) > 1}):
            errors.append(ConfigError(None, f"--{kind}", f"two {kind}s share the name {dupe!r}"))
    raise_errors(errors)
    plan = Plan(request, spaces, targets, references=references)
    if request.dataset is not None:
        # references train on the same data and schedule: their class count and resolution are checked with them
        plan.training = _plan_training(request, spaces + references, targets)
    return plan


def _references(request: SweepRequest, spaces: list[DesignSpace]) -> tuple[list[DesignSpace], list[ConfigError]]:
    """The --reference networks at the spaces' shape (not checked while a space failed to load: it sets the shape)."""
    from hwbench.pipeline.references import load_references

    if not request.references or len(spaces) < len(request.spaces):
        return [], []
    return load_references(request.references, spaces)


def _plan_training(
    request: SweepRequest, spaces: list[DesignSpace], targets: list[Target]
) -> TrainingPlan | DetTrainingPlan:
    """The classification or detection training plan, as the dataset (or, for `auto`, the spaces) say."""
    from dataclasses import replace

    from hwbench.pipeline.det_plan import AUTO, plan_detection, resolve_auto, stored_task, task_of

    stored = stored_task(request.store, request.name) if not spaces and request.dataset == AUTO else None
    dataset, schedule = resolve_auto(spaces, request.dataset, request.schedule, stored)
    if task_of(spaces, dataset, stored) == "detection":
        tp = plan_detection(str(dataset), schedule, request.train_seed, spaces)
        tp.given = dict(request.given_weights)
        return tp
    return plan_training(replace(request, dataset=dataset, schedule=schedule), spaces, targets)


def _option_errors(request: SweepRequest) -> list[ConfigError]:
    """Command-line values the files do not cover: stage, executor, counts, seeds, names."""
    from hwbench.pipeline.executors import EXECUTORS

    errors = []
    if request.stage not in STAGES:
        errors.append(ConfigError(None, "--stage", f"expected one of {', '.join(STAGES)}, got {request.stage!r}"))
    if request.executor not in EXECUTORS:
        errors.append(
            ConfigError(None, "--executor", f"expected one of {', '.join(EXECUTORS)}, got {request.executor!r}")
        )
    # A later stage alone reads the sweep's networks from the store; sampling needs the spaces.
    if not request.spaces and request.stage in ("all", "export"):
        errors.append(ConfigError(None, "--space", "give at least one design space"))
    if not request.targets and request.stage != "train":
        errors.append(ConfigError(None, "--target", "give at least one target"))
    if request.stage == "train" and request.dataset is None:
        errors.append(ConfigError(None, "--stage", "train needs a dataset (--dataset NAME[:PATH])"))
    if request.n < 1:
        errors.append(ConfigError(None, "--n", f"must be at least 1, got {request.n}"))
    # numpy seeds are non-negative integers; a negative one would fail deep inside sampling.
    for option, value in (("--seed", request.seed), ("--train-seed", request.train_seed)):
        if value is not None and not 0 <= value < 2**63:
            errors.append(ConfigError(None, option, f"must be an integer from 0 to 2^63-1, got {value}"))
    if not request.name.strip():
        errors.append(ConfigError(None, "--name", "must not be empty"))
    return errors


def _check_token(target: Target) -> None:
    """An agent target whose token cannot be read is a setup error: say so before anything runs."""
    from hwbench.agent.wire import TokenError

    assert target.agent is not None
    try:
        target.agent.token()
    except TokenError as exc:
        key = "agent.token_file" if target.agent.token_file else "agent.token_env"
        raise ConfigError(target.source, key, str(exc)) from None


def choose_safely(request: SweepRequest) -> str | None:
    """The executor the request gets, or None for an unknown name (reported with the other option errors)."""
    from hwbench.pipeline.executors import choose

    try:
        return choose(request.executor, request.ray_address)
    except ValueError:
        return None
