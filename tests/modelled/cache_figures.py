"""A network's modelled figures, computed in a fresh process (test_cache's cross-process check)."""

from __future__ import annotations

from pathlib import Path

from hwbench.modelled.job import model_job
from tests.modelled.helpers import job_for, modelled_target


def run(target: str, onnx: str) -> dict:
    """The figures test_cache compares, from a run in this process."""
    from tests.modelled.test_cache import figures

    return figures(model_job(job_for(modelled_target(Path(target)), Path(onnx))))
