"""Python API for notebooks: load a space, sample, build, export, measure, read results as DataFrames."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from hwbench.config.target import Target
from hwbench.config.target import load_target as _load_target
from hwbench.paths import resolve
from hwbench.space.archspec import ArchSpec
from hwbench.space.design_space import DesignSpace
from hwbench.space.design_space import load_space as _load_space
from hwbench.space.sampling import sample_space
from hwbench.store import Store


def load_space(path_or_name: str | Path) -> DesignSpace:
    """A design space from a file or a name in design_spaces/ (e.g. "mbconv", "mobilenet_v2")."""
    from hwbench.space.locate import space_paths

    paths = space_paths(path_or_name, "space")
    if len(paths) != 1:
        from hwbench.errors import ConfigError

        raise ConfigError(str(path_or_name), "space", f"a directory of {len(paths)} spaces; give one file or name")
    return _load_space(paths[0])


def load_target(path_or_name: str | Path) -> Target:
    """A target from a file or a name in targets/ (e.g. "cpu-onnxruntime-1t")."""
    return _load_target(resolve(path_or_name, "targets", "target"))


def load_arch(path: str | Path) -> ArchSpec:
    """A fixed architecture from a spec file (the `arch:` mapping)."""
    from hwbench.space.archspec import load_arch as _load

    return _load(path)[1]


def sample(space: DesignSpace | str | Path, n: int, seed: int = 0) -> list[ArchSpec]:
    """n distinct architectures from a space (same seed, same arch_ids)."""
    space = space if isinstance(space, DesignSpace) else load_space(space)
    return [s.spec for s in sample_space(space, n, seed)]


def build_model(spec: ArchSpec) -> Any:
    """The nn.Module of a spec (eval mode, weights seeded from the arch_id)."""
    from hwbench.models import build_model as _build

    return _build(spec)


def complexity(spec: ArchSpec) -> dict[str, int]:
    """MACs, params and activations counted from the built module."""
    from hwbench.models.complexity import complexity as _complexity

    return _complexity(spec).as_dict()


def export_arch(spec: ArchSpec, target: Target | str | Path, artifacts: str | Path | None = None) -> dict[str, Any]:
    """Export a spec under a target's profile (in this process); returns the export record with `path`."""
    from hwbench.export import get_exporter
    from hwbench.export.artifacts import ArtifactStore
    from hwbench.export.job import run_export

    target = target if isinstance(target, Target) else load_target(target)
    root = Path(artifacts) if artifacts else Path(tempfile.gettempdir()) / "hwbench-artifacts"
    result = run_export(
        {
            "spec_json": spec.canonical_json,
            "format": target.export_format,
            "precision": target.precision,
            "options": target.export_options,
            "token_form": target.token_form,
            "artifact_dir": str(root),
        }
    )
    if result["status"] == "ok":
        ext = get_exporter(target.export_format).extension
        result["path"] = str(ArtifactStore(root).path(result["artifact_hash"], ext))
    return result


def measure_arch(spec_or_artifact: ArchSpec | str | Path, target: Target | str | Path) -> dict[str, Any]:
    """Measure a spec (exported first) or an artifact file on a target: in a worker process, or on its board."""
    from hwbench.runners.local import measure_artifact
    from hwbench.workers import run_jobs

    target = target if isinstance(target, Target) else load_target(target)
    if isinstance(spec_or_artifact, ArchSpec):
        exported = export_arch(spec_or_artifact, target)
        if exported["status"] != "ok":
            return exported
        path = exported["path"]
    else:
        path = str(spec_or_artifact)
    job = {
        "runner": target.runner,
        "path": path,
        "threads": target.threads,
        "options": target.runner_options,
        "protocol": target.measurement.protocol().as_dict(),
        "seed": target.measurement.input_seed,
    }
    if target.transport == "agent":
        return _measure_on_board(target, job)
    # A separate process, as in a sweep: the runtime's threads and a crash stay out of the notebook.
    [(_, result)] = list(run_jobs(measure_artifact, [(0, job)], workers=1, timeout=600, threads=target.threads))
    return result


def _measure_on_board(target: Target, job: dict[str, Any]) -> dict[str, Any]:
    """Upload (if needed) and measure through the target's agent; the record gains `queue_seconds`."""
    from hwbench.export.artifacts import file_hash
    from hwbench.pipeline.remote import client_for
    from hwbench.runners.local import job_timeout

    assert target.agent is not None
    client = client_for(target)
    try:
        path = job.pop("path")
        reply = client.measure(
            job, path, file_hash(path), Path(path).suffix, job_timeout(job["protocol"]), target.agent.queue_timeout_s
        )
    finally:
        client.close()
    return {**reply["result"], "queue_seconds": reply["queue_seconds"]}


def open_store(path: str | Path = "results/hwbench.sqlite") -> Store:
    """Open an existing results store."""
    return Store(path, create=False)


def results(sweep: str | list[str], store: str | Path = "results/hwbench.sqlite") -> pd.DataFrame:
    """The results table of one or more sweeps."""
    from hwbench.analysis.table import results_frame

    names = [sweep] if isinstance(sweep, str) else list(sweep)
    return results_frame(open_store(store), names)


def modelled_results(sweep: str | list[str], store: str | Path = "results/hwbench.sqlite") -> pd.DataFrame:
    """The modelled (not measured) results of one or more sweeps: one row per network and modelled target."""
    from hwbench.analysis.modelled import modelled_frame

    names = [sweep] if isinstance(sweep, str) else list(sweep)
    return modelled_frame(open_store(store), names)


def analyse(sweep: str | list[str], store: str | Path = "results/hwbench.sqlite", **options: Any) -> Any:
    """Every analysis of the report for one or more sweeps: an Analysis with `.tables` (DataFrames by name).

    options: n_boot, confidence, cov_threshold, seed, front_m, edf_bins, group, proxy (see docs/report.md).
    """
    from hwbench.analysis.analyse import analyse as _analyse
    from hwbench.analysis.analyse import make_options

    names = [sweep] if isinstance(sweep, str) else list(sweep)
    return _analyse(open_store(store), names, make_options(**options))


def report_frames(
    sweep: str | list[str], store: str | Path = "results/hwbench.sqlite", **options: Any
) -> dict[str, pd.DataFrame]:
    """The report's tables as DataFrames by name (speedups, gaps, fronts, edf, recommendations, ...)."""
    return analyse(sweep, store, **options).tables


def make_report(
    sweep: str | list[str],
    output: str | Path | None = None,
    store: str | Path = "results/hwbench.sqlite",
    **options: Any,
) -> Path:
    """Write the HTML report (plus figures and CSV tables) and return its path; default dir: <store dir>/<names>."""
    from hwbench.report.html import render_report

    names = [sweep] if isinstance(sweep, str) else list(sweep)
    outdir = Path(output) if output else Path(store).parent / "+".join(names)
    return render_report(analyse(names, store, **options), outdir)
