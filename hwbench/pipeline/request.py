"""What a sweep is asked to do and what it is made of: plain data, imported by every stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hwbench.space.archspec import ArchSpec


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
    # Networks whose weights come from another record (arch_id → accuracy key), not from training on the
    # schedule: anchor pruning's surgically pruned detectors (docs/anchor-pruning.md).
    given_weights: dict[str, str] = field(default_factory=dict)
    # A name that keys this sweep's detection timings apart from any earlier ones, so every network is timed again
    # in this run, side by side (anchor pruning's measured front against its unpruned detector).
    timing_session: str | None = None
    # Known networks (fixed specs) measured beside the spaces at their resolution and classes (--reference).
    references: list[Path] = field(default_factory=list)

    @property
    def artifact_dir(self) -> Path:
        """Where artifacts are stored by content hash."""
        return self.artifacts or self.store.parent / "artifacts"

    @property
    def weights_dir(self) -> Path:
        """Where trained state_dicts are kept, by accuracy key: beside the artifacts, which on a cluster every
        node sees at the same path (training writes them on its node; artifact evaluation reads them on another)."""
        return self.artifact_dir / "weights"

    @property
    def output_dir(self) -> Path:
        """Where the report of this sweep goes."""
        return self.report_dir or self.store.parent / self.name


@dataclass(frozen=True)
class SweepArch:
    """An architecture of the sweep and where it came from."""

    space: str
    index: int
    spec: ArchSpec
    complexity: dict[str, int] | None = field(default=None, compare=False)
    space_file: str = ""
