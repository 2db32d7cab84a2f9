"""Pick the executor a sweep asked for: local worker processes, or Ray (imported only when chosen)."""

from __future__ import annotations

import os

from hwbench.pipeline.executor import Executor, LocalExecutor

EXECUTORS = ("auto", "local", "ray")


def choose(name: str, address: str | None = None) -> str:
    """The executor a request gets: `auto` is Ray when an address is given or RAY_ADDRESS is set, else local."""
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r} (expected one of {', '.join(EXECUTORS)})")
    if name == "auto":
        return "ray" if (address or os.environ.get("RAY_ADDRESS")) else "local"
    return name


def make_executor(name: str, address: str | None = None) -> Executor:
    """An executor by name (`auto`, `local`, `ray`); Ray is imported only when chosen."""
    if choose(name, address) == "local":
        return LocalExecutor()
    from hwbench.pipeline.ray_executor import RayExecutor

    return RayExecutor(address)
