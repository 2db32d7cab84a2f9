"""hwbench: compare neural-network building blocks on real hardware."""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# The public API is resolved lazily so that `import hwbench` stays cheap and torch-free: the measuring side
# (runners, agent) imports this package on boards that have only numpy and one runtime.
_API = {
    "load_space": "hwbench.api",
    "load_target": "hwbench.api",
    "load_arch": "hwbench.api",
    "sample": "hwbench.api",
    "build_model": "hwbench.api",
    "complexity": "hwbench.api",
    "export_arch": "hwbench.api",
    "measure_arch": "hwbench.api",
    "results": "hwbench.api",
    "modelled_results": "hwbench.api",
    "open_store": "hwbench.api",
    "analyse": "hwbench.api",
    "report_frames": "hwbench.api",
    "make_report": "hwbench.api",
    "ArchSpec": "hwbench.space.archspec",
}


def __getattr__(name: str) -> Any:
    """Import public API names on first use."""
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'hwbench' has no attribute {name!r}")


__all__ = ["__version__", *_API]
