"""The sweep pipeline: one module per stage; stages meet only in the store (docs/cluster.md: stages alone)."""

from __future__ import annotations

from hwbench.pipeline.plan import Plan, plan_sweep
from hwbench.pipeline.request import SweepRequest
from hwbench.pipeline.run import run_sweep

__all__ = ["Plan", "SweepRequest", "plan_sweep", "run_sweep"]
