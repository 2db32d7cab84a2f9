"""The measure stage's path for modelled targets: every exported network costed by ZigZag, in worker processes.

Keyed like a measurement (artifact × target fingerprint × settings): a network already modelled is linked, not
modelled again; failures are records. Jobs are handed out one network at a time (each result's follow-up is the
next network), so a network sent later finds in the layer cache every layer the networks before it costed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hwbench.config.target import Target
from hwbench.export.artifacts import ArtifactStore
from hwbench.measure.provenance import git_commit, machine_info
from hwbench.modelled import KIND, zigzag_version
from hwbench.modelled.accelerators import file_hash, resolve
from hwbench.modelled.options import model_settings
from hwbench.pipeline.executor import Batch, LocalExecutor
from hwbench.pipeline.stage import StageContext, run_stage
from hwbench.store import modelled as records
from hwbench.store.keys import digest

# A network's wall-clock limit by effort (a worker that passes it is killed and the network recorded as failed).
TIMEOUT_S = {"lowest": 900, "low": 1800, "medium": 3600, "high": 7200}


@dataclass(frozen=True)
class ModelledTarget:
    """A modelled target resolved: its files, their hashes, the settings, the fingerprint and the cache scope."""

    target: Target
    accelerator: str
    mapping: str
    mapping_names: tuple[str, ...]
    settings: dict[str, Any]
    identity: dict[str, Any]

    @classmethod
    def of(cls, target: Target) -> ModelledTarget:
        """Resolve a loaded modelled target (ZigZag installed: load_target checked it)."""
        import yaml

        options = target.runner_options
        acc, mapping = resolve(options, target.source)
        entries = yaml.safe_load(mapping.read_text(encoding="utf-8")) or []
        names = tuple(str(e.get("name")) for e in entries if isinstance(e, dict))
        settings = {**model_settings(options), "clock_mhz": float(options["clock_mhz"])}
        identity = {
            "runner": target.runner,
            "kind": KIND,
            "versions": {"zigzag-dse": zigzag_version()},
            "accelerator": {"name": options["accelerator"], "file": acc.name, "sha256": file_hash(acc)},
            "mapping": {"file": mapping.name, "sha256": file_hash(mapping)},
        }
        return cls(target, str(acc), str(mapping), names, settings, identity)

    @property
    def fingerprint(self) -> str:
        """What makes two modelled results comparable: model version, accelerator and mapping bytes."""
        return digest(self.identity)

    def key(self, artifact_hash: str) -> str:
        """Key of a modelled record: artifact × fingerprint × settings (the clock included: it sets the ms)."""
        return digest({"artifact": artifact_hash, "target": self.fingerprint, "settings": self.settings, "kind": KIND})

    def scope(self) -> dict[str, Any]:
        """What a cached layer's cost depends on besides the layer: files, model version, search settings."""
        search = {k: v for k, v in self.settings.items() if k != "clock_mhz"}  # cycles do not depend on the clock
        return {**self.identity, "settings": search}


def model_target(ctx: StageContext, target: Target, exports: dict[str, str | None], artifacts: ArtifactStore) -> int:
    """Model what the store lacks for one modelled target; return how many records were stored."""
    mt = ModelledTarget.of(target)
    req, store = ctx.plan.request, ctx.store
    todo: list[tuple[str, str, str, str]] = []  # (arch_id, export key, artifact hash, artifact path)
    for arch in ctx.archs:
        ekey = exports.get(arch.spec.arch_id)
        export = store.get_export(ekey) if ekey else None
        if export is None or export["status"] != "ok":
            continue  # failed exports show as export errors; unexported networks stay pending
        key = mt.key(export["artifact_hash"])
        row = records.get_modelled(store, key)
        if row is not None and (row["status"] == "ok" or not req.retry_errors):
            records.link_modelled(store, req.name, arch.spec.arch_id, target.name, key)
            continue
        path = str(artifacts.path(export["artifact_hash"], export["extension"]))
        todo.append((arch.spec.arch_id, ekey, export["artifact_hash"], path))
    if not todo:
        return 0
    feed = _Feed(ctx, mt, todo)
    workers = min(int(target.runner_options["workers"]), len(todo))
    batch = Batch(
        f"model:{target.name}",
        _run_model_job,
        workers,
        TIMEOUT_S[mt.settings["effort"]],
        threads=1,
        followups=feed.followups,
    )
    local = StageContext(ctx.plan, ctx.archs, store, ctx.ui, LocalExecutor())
    title = f"modelling {target.name} (ZigZag, {mt.settings['effort']} effort)"
    failed = run_stage(local, batch, feed.first(workers), title=title, total=len(todo), record=feed.record)
    if failed:
        ctx.ui.note(f"{target.name}: {failed} of {len(todo)} networks could not be modelled; the errors are recorded")
    return len(todo)


def _run_model_job(job: dict[str, Any]) -> dict[str, Any]:
    """Worker entry point (module level, so a spawned worker can import it)."""
    from hwbench.modelled.job import model_job

    return model_job(job)


class _Feed:
    """Hands out one network's job at a time, each built with the layer cache as it stands then."""

    def __init__(self, ctx: StageContext, mt: ModelledTarget, todo: list[tuple[str, str, str, str]]) -> None:
        self.ctx, self.mt, self.todo, self.next = ctx, mt, todo, 0
        # One provenance document for the target's records (the same machine, commit and model for all).
        self.provenance = {"kind": KIND, "model": mt.identity, "settings": mt.settings, "machine": machine_info(),
                           "commit": git_commit()}  # fmt: skip

    def first(self, n: int) -> Iterator[tuple[Any, dict[str, Any]]]:
        """The first n jobs."""
        for _ in range(n):
            yield self._job()

    def followups(self, tag: Any, result: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
        """After a result is stored: the next network, if any."""
        return [self._job()] if self.next < len(self.todo) else []

    def _job(self) -> tuple[Any, dict[str, Any]]:
        from hwbench.modelled.job import job_for, layer_keys
        from hwbench.modelled.workload import WorkloadError, load_workload

        item = self.todo[self.next]
        self.next += 1
        try:  # the graph is read here too, to send the worker its cached layers
            keys = layer_keys(load_workload(item[3], self.mt.mapping_names), self.mt.scope())
            cached = records.cached_layers(self.ctx.store, keys.values())
        except WorkloadError:
            cached = {}  # the worker reads it again and records the error
        return item, job_for(self.mt, item[3], cached)

    def record(self, tag: Any, result: dict[str, Any]) -> int:
        """Store one network's modelled record (ok or error), its new layers, and its sweep link."""
        arch_id, _, artifact_hash, _ = tag
        mt, target = self.mt, self.mt.target
        row = {k: result.get(k) for k in records.MODELLED_COLUMNS}
        row.update(
            model_key=mt.key(artifact_hash),
            kind=KIND,
            artifact_hash=artifact_hash,
            target_fp=mt.fingerprint,
            target=target.name,
            settings_json=mt.settings,
            layers_json=result.get("layers") or [],
            coverage_json=result.get("coverage") or {},
            info_json=_info(result),
        )
        link = (self.ctx.plan.request.name, arch_id, target.name)
        records.put_modelled(self.ctx.store, row, self.provenance, link, result.get("new_layers"))
        return 1


def _info(result: dict[str, Any]) -> dict[str, Any]:
    """Figures that have no column of their own (energy split, ZigZag's own MAC count, a failure's traceback)."""
    keep = ("mac_energy_uj", "mem_energy_uj", "zigzag_macs", "traceback")
    return {k: result[k] for k in keep if result.get(k) is not None}
