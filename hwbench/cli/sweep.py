"""`hwbench sweep`: sample, export, measure, train, store, report; one stage alone with --stage."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from hwbench.cli.common import DEFAULT_STORE, StoreOpt, app

# The built-in demo: the mission's textbook pair (MBConv: depthwise, cheap in MACs; Fused-MBConv: a full 3x3 conv,
# more MACs, often faster on CPUs) on onnxruntime with 1 and 2 threads. The report compares two blocks only where
# 9 networks of each reach an accuracy level and gives verdicts from 10 networks per block
# (analysis.recommend.MIN_NETWORKS): 15 networks per block give the pair a shared accuracy range; five blocks with
# 3 networks each, or three with 10, showed no comparison at all.
DEFAULT_SPACES = ["mbconv", "fused_mbconv"]
DEFAULT_TARGETS = ["cpu-onnxruntime-1t", "cpu-onnxruntime-2t"]
# `auto`: the built-in offline dataset (ships inside scikit-learn) and the schedule the demo trains on (`demo`:
# 5 epochs, chosen so that `make demo` stays under 10 minutes on 2 cores from a fresh clone, README "Quick start");
# for detector spaces, digits-det and det_demo (hwbench.pipeline.det_plan.DEFAULTS).
DEFAULT_DATASET = "auto"
DEFAULT_SCHEDULE = "auto"
DEFAULT_N = 15


class StageChoice(str, Enum):
    """--stage values (an Enum, so that the CLI itself refuses any other value and lists the valid ones)."""

    all = "all"
    export = "export"
    measure = "measure"
    train = "train"


class ExecutorChoice(str, Enum):
    """--executor values."""

    auto = "auto"
    local = "local"
    ray = "ray"


@app.command()
def sweep(
    space: Annotated[
        list[str] | None, typer.Option("--space", "-s", help="Design space file or name (repeat).")
    ] = None,
    target: Annotated[list[str] | None, typer.Option("--target", "-t", help="Target file or name (repeat).")] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Networks per space.")] = DEFAULT_N,
    seed: Annotated[int, typer.Option(help="Sampling seed: same seed, same architectures.")] = 0,
    name: Annotated[str, typer.Option("--name", help="Sweep name (re-use it to resume).")] = "demo",
    store: StoreOpt = DEFAULT_STORE,
    artifacts: Annotated[
        Path | None,
        typer.Option(help="Artifact folder (default: beside the store); on a cluster, one every node sees."),
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Export worker processes (default: cores).")] = None,
    export_timeout: Annotated[float, typer.Option(help="Seconds before a hung export is killed.")] = 900.0,
    retry_errors: Annotated[bool, typer.Option(help="Redo exports and measurements that failed before.")] = False,
    report: Annotated[bool, typer.Option(help="Write the report when done.")] = True,
    dataset: Annotated[
        str,
        typer.Option(
            help="Dataset to train on: NAME[:PATH] (see `hwbench datasets`); auto: digits, or digits-det for detectors."
        ),
    ] = DEFAULT_DATASET,
    schedule: Annotated[
        str,
        typer.Option(
            help="Training schedule: a name (see `hwbench schedules`) or a file; auto: demo, or det_demo for detectors."
        ),
    ] = (DEFAULT_SCHEDULE),
    train: Annotated[bool, typer.Option(help="Train and evaluate every network (--no-train: latency only).")] = True,
    download: Annotated[
        bool, typer.Option(help="Fetch a missing standard dataset (CIFAR, MNIST) into PATH; never done otherwise.")
    ] = False,
    train_seed: Annotated[int | None, typer.Option(help="Training seed (default: the schedule's).")] = None,
    train_workers: Annotated[
        int | None, typer.Option(min=1, help="Training worker processes (default: one per core; one on CUDA).")
    ] = None,
    train_timeout: Annotated[float, typer.Option(help="Seconds before one network's training is stopped.")] = 3600.0,
    train_device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")] = "auto",
    eval_artifacts: Annotated[
        str, typer.Option(help="Accuracy of exported artifacts: auto (int8 targets), all or none.")
    ] = "auto",
    stage: Annotated[
        StageChoice,
        typer.Option(
            help="Run one stage alone, resuming from the store: export (sample + export), measure, "
            "train (train + artifact accuracy); all runs every stage then the report."
        ),
    ] = StageChoice.all,
    executor: Annotated[
        ExecutorChoice,
        typer.Option(
            help="Where jobs run: auto (Ray when --ray-address or RAY_ADDRESS is set, else local worker processes), "
            "local or ray."
        ),
    ] = ExecutorChoice.auto,
    ray_address: Annotated[str | None, typer.Option(help="Address of the Ray cluster (default: $RAY_ADDRESS).")] = None,
    reference: Annotated[
        list[str] | None,
        typer.Option(
            "--reference",
            "-r",
            help="A known network (a fixed spec: mobilenet_v2, resnet18, ... or a file) measured and trained beside "
            "the spaces at their resolution and class count, drawn on every front; not part of any block (repeat).",
        ),
    ] = None,
) -> None:
    """Sample N networks per space, export, measure on every target, train, store, report. Re-run to resume."""
    from hwbench.pipeline import SweepRequest, run_sweep
    from hwbench.progress import RichProgress

    spaces, targets = default_inputs(stage.value, space, target)
    request = SweepRequest(
        name=name,
        **_resolve_inputs(spaces, targets, reference or []),
        n=n,
        seed=seed,
        store=store,
        artifacts=artifacts,
        workers=workers,
        export_timeout=export_timeout,
        retry_errors=retry_errors,
        report=report,
        dataset=dataset if train else None,
        schedule=schedule,
        download=download,
        train_seed=train_seed,
        train_workers=train_workers,
        train_timeout=train_timeout,
        train_device=train_device,
        eval_artifacts=eval_artifacts,
        stage=stage.value,
        executor=executor.value,
        ray_address=ray_address,
    )
    ui = RichProgress()
    counts = run_sweep(request, ui)
    ui.note(summary(name, stage.value, counts, train=train, store=store))


def default_inputs(stage: str, spaces: list[str] | None, targets: list[str] | None) -> tuple[list[str], list[str]]:
    """The spaces and targets a stage runs on: as given, else the demo's where the stage needs them, else none.

    Measure and train read the sweep's networks from the store, and train needs no target, so their defaults are
    empty: the demo's spaces would add networks to a sweep that never sampled them.
    """
    if not spaces:
        spaces = DEFAULT_SPACES if stage in ("all", "export") else []
    if not targets:
        targets = [] if stage == "train" else DEFAULT_TARGETS
    return list(spaces), list(targets)


def summary(name: str, stage: str, counts: dict[str, int], *, train: bool, store: Path) -> str:
    """The line a sweep ends with: what this stage added to the store."""
    if stage == "export":
        done = f"{counts.get('archs', 0)} networks, {counts.get('exports', 0)} new exports"
    elif stage == "measure":
        done = f"{counts.get('measurements', 0)} new measurements"
    elif stage == "train":
        done = f"{counts.get('trained', 0)} trained"
    else:
        trained = f", {counts.get('trained', 0)} trained" if train else ""
        done = (
            f"{counts.get('archs', 0)} networks, {counts.get('exports', 0)} new exports, "
            f"{counts.get('measurements', 0)} new measurements{trained}"
        )
        if counts.get("detection_timings"):
            done += f", {counts['detection_timings']} detectors timed in parts"
    if counts.get("modelled"):
        done += f", {counts['modelled']} new modelled (not measured)"
    return f"sweep {name!r}: {done} (store: {store})"


def _resolve_inputs(spaces: list[str], targets: list[str], references: list[str]) -> dict[str, list[Path]]:
    """Every --space, --target and --reference value as files; all the unknown ones reported together."""
    from hwbench.config import raise_errors, split_errors
    from hwbench.errors import ConfigError
    from hwbench.paths import resolve
    from hwbench.pipeline.references import reference_paths
    from hwbench.space.locate import space_paths

    found: dict[str, list[Path]] = {"spaces": [], "targets": [], "references": []}
    errors: list[ConfigError] = []
    for key, find, values in (("spaces", space_paths, spaces), ("references", reference_paths, references)):
        for value in values:
            try:
                found[key] += find(value)
            except ConfigError as exc:
                errors += split_errors(exc)
    for value in targets:
        try:
            found["targets"].append(resolve(value, "targets", "--target"))
        except ConfigError as exc:
            errors += split_errors(exc)
    raise_errors(errors)
    return found
