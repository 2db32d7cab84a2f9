"""Runners: one file per runtime, registered by name. Imports only stdlib and numpy at module level.

A runner opens an artifact as a Session; the timing loop in hwbench.measure times its bound call.
Runtimes (onnxruntime, LiteRT, OpenVINO, torch) are imported inside `open`, so this package loads on a
board that has numpy and one runtime.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

import numpy as np

from hwbench.registry import Registry

RUNNER_MODULES = (
    "hwbench.runners.onnxruntime",
    "hwbench.runners.torch_eager",
    "hwbench.runners.tflite",
    "hwbench.runners.openvino",
)


class RuntimeMissingError(RuntimeError):
    """The runtime a runner needs is not installed here (recorded as that target's error)."""


def import_runtime(module: str, install: str) -> Any:
    """Import a runtime module, or raise RuntimeMissingError saying how to install it."""
    try:
        return import_module(module)
    except ImportError as exc:
        raise RuntimeMissingError(f"{module} is not installed ({exc}); install it with {install}") from None


@dataclass(frozen=True)
class TensorSpec:
    """An input or output of an artifact; `scale`/`zero_point` are set for quantized tensors."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None = None
    zero_point: int | None = None


class Session(ABC):
    """A loaded artifact, ready to run."""

    @abstractmethod
    def inputs(self) -> list[TensorSpec]:
        """Input tensors."""

    @abstractmethod
    def prepare(self, inputs: list[np.ndarray]) -> Callable[[], Any]:
        """Bind float inputs (quantizing where the artifact wants integers); return the call to time."""

    @abstractmethod
    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Run once on float inputs and return float outputs (dequantized where needed)."""

    @abstractmethod
    def outputs_call(self, inputs: list[np.ndarray]) -> Callable[[], list[np.ndarray]]:
        """Bind float inputs once; return a call that runs one inference and returns every output as float32
        (what timing in parts needs: the graph's outputs feed the post-processing timed after it)."""

    def info(self) -> dict[str, Any]:
        """Facts about the loaded artifact (e.g. delegated operators); empty by default."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the runtime's resources."""


@dataclass(frozen=True)
class RunnerDef:
    """A registered runner: the artifact format it runs, its options (a dataclass) and its opener."""

    name: str
    format: str
    description: str
    options: type
    open: Callable[[str, int, Any], Session]
    # Distributions whose versions identify the runtime (stored and part of the target fingerprint).
    distributions: tuple[str, ...] = field(default_factory=tuple)


RUNNERS: Registry[RunnerDef] = Registry("runner")


def get_runner(name: str) -> RunnerDef:
    """Look up a runner by name."""
    load_all()
    return RUNNERS.get(name)


def runner_names() -> list[str]:
    """Every registered runner."""
    load_all()
    return RUNNERS.names()


def load_all() -> None:
    """Import every runner module (cheap: runtimes are imported lazily)."""
    for module in RUNNER_MODULES:
        import_module(module)


def random_inputs(specs: list[TensorSpec], seed: int = 0) -> list[np.ndarray]:
    """Seeded float32 standard-normal inputs in each input's shape (quantization is the session's job)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(spec.shape).astype(np.float32) for spec in specs]
