"""Measurement jobs and records: what a target's pending networks are, how a result is keyed and stored.

Shared by the measure stage's local path (pipeline.measure) and its board path (pipeline.remote, board_pool).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from hwbench.config.target import Target
from hwbench.export.artifacts import ArtifactStore
from hwbench.measure.provenance import git_commit, machine_id, versions
from hwbench.measure.recovery import BUSY
from hwbench.pipeline.jobs import MeasureJob, MeasureKeys
from hwbench.pipeline.keys import measurement_key
from hwbench.pipeline.plan import Plan
from hwbench.pipeline.stage import StageContext
from hwbench.runners import get_runner
from hwbench.space.sampling import space_rng
from hwbench.store import Store
from hwbench.store.columns import MEASUREMENT_COLUMNS
from hwbench.store.keys import digest


def measure_settings(target: Target) -> dict[str, Any]:
    """The settings that key a measurement and are stored with it (the rounds among them)."""
    return target.measurement.settings()


def target_fingerprint(
    target: Target, board: dict[str, Any] | None = None, node: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """What makes two measurements comparable: runtime and versions, threads, options, machine (a board's own,
    or a Ray node's: `node` is what hwbench.runners.local.machine_facts returned there)."""
    runner = get_runner(target.runner)
    identity = {
        "runner": target.runner,
        "threads": target.threads,
        "runner_options": target.runner_options,
        "transport": target.transport,
        "machine": machine_id(),
        "versions": versions(runner.distributions),
    }
    if board is not None:
        machine = board["machine"]
        identity["machine"] = f"{machine['hostname']}|{machine['cpu_model']}"
        # The host alias and port are not identity: the same board keeps its results when its address changes.
        identity["device_id"] = board["device"].get("device_id")
        identity["versions"] = board["runtimes"].get(target.runner, {}).get("versions", {})
    if node is not None:
        identity["machine"], identity["versions"] = node["machine_id"], node["versions"]
        identity["ray_resource"] = target.ray_resource
    return digest(identity), identity


def measure_timeout(job: dict[str, Any]) -> float:
    """Generous wall-clock limit for one measurement job (loading + warm-up + capped timing)."""
    from hwbench.runners.local import job_timeout

    return job_timeout(job["protocol"])


def pending(
    ctx: StageContext,
    artifacts: ArtifactStore,
    target: Target,
    exports: dict[str, str | None],
    fp: str,
    pool: Sequence[str] = (),
) -> list[MeasureJob]:
    """Link what is already measured on the machine `fp` (or a `pool` one) names; return jobs for the rest, keyed
    for `fp`, in a seeded order."""
    req, store = ctx.plan.request, ctx.store
    # The rounds are part of the protocol, so a measurement made before them is not taken for one made in them.
    settings = measure_settings(target)
    todo = []
    for arch in ctx.archs:
        ekey = exports.get(arch.spec.arch_id)
        export = store.get_export(ekey) if ekey else None
        if export is None or export["status"] != "ok":
            continue  # failed exports are linked already; unexported networks stay pending
        inputs = per_image_inputs(export, artifacts)
        # Timed image by image: the images are part of what was measured.
        # A board pool's boards stand for each other: a network measured on any of them is done.
        keys = [
            measurement_key(export["artifact_hash"], f, settings, inputs[1] if inputs else None) for f in (fp, *pool)
        ]
        mkey, done = keys[0], None
        for key in dict.fromkeys(keys):
            row = store.get_measurement(key)
            # A result stored as disturbed counts as done, like an error, unless the sweep retries errors.
            redo = req.retry_errors and (row is not None and (row["status"] != "ok" or bool(row["disturbed"])))
            if row is not None and not redo and (row["status"] == "ok" or not transport_error(row)):
                done = key
                break
        if done is not None:
            store.link_run(req.name, arch.spec.arch_id, target.name, ekey, done)
            continue
        todo.append(
            MeasureJob(
                runner=target.runner,
                path=str(artifacts.path(export["artifact_hash"], export["extension"])),
                threads=target.threads,
                options=target.runner_options,
                protocol=target.measurement.protocol().as_dict(),
                keys=MeasureKeys(mkey, ekey, export["artifact_hash"], arch.spec.arch_id),
                seed=target.measurement.input_seed,
                inputs_path=inputs[0] if inputs else None,
                inputs_source=inputs[2] if inputs else None,
            )
        )
    # A seeded shuffle interleaves blocks, so slow drift of the machine does not favour one block.
    order = space_rng(f"measure:{target.name}", req.seed).permutation(len(todo)) if todo else []
    return [todo[i] for i in order]


def per_image_inputs(export: Any, artifacts: ArtifactStore) -> tuple[str, str, str] | None:
    """(path, hash, source) of the images an artifact whose cost follows the image is timed on, one by one;
    None for every other artifact (and for one exported before per-image measurement existed)."""
    info = json.loads(export["info_json"] or "{}")
    inputs = info.get("inputs")
    if info.get("token_form") != "dynamic" or not inputs:
        return None
    if not artifacts.verify(inputs["hash"], inputs["extension"]):
        return None  # the images file is gone: the usual statistics only (re-export to get it back)
    return str(artifacts.path(inputs["hash"], inputs["extension"])), inputs["hash"], inputs["source"]


def transport_error(row: Any) -> bool:
    """Whether a failed measurement failed because its board was unreachable (retried on every re-run)."""
    try:
        return bool(json.loads(row["info_json"] or "{}").get("transport_error"))
    except ValueError:
        return False


def store_result(
    plan: Plan,
    store: Store,
    target: Target,
    fp: str,
    identity: dict[str, Any],
    order_index: int,
    keys: MeasureKeys,
    result: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> bool:
    """Store one measurement result (ok or error) and link it to the sweep; return whether it was ok."""
    mkey, ekey, artifact_hash, arch_id = keys
    row = {k: result.get(k) for k in MEASUREMENT_COLUMNS}
    row["converged"] = None if row["converged"] is None else int(row["converged"])
    row.update(
        measure_key=mkey,
        artifact_hash=artifact_hash,
        target_fp=fp,
        target=target.name,
        settings_json=measure_settings(target),
        order_index=order_index,
        queue_seconds=result.get("queue_seconds"),
        info_json=result.get("info") or {},
    )
    ok = result["status"] == "ok"
    if not ok:
        row["info_json"] = {k: v for k, v in (result.get("info") or {}).items() if k == "transport_error"}
        row["info_json"]["traceback"] = result.get("traceback")
    provenance = {**(result.get("provenance") or {}), "target": identity, "commit": git_commit(), **(extra or {})}
    store.put_measurement(row, provenance, (plan.request.name, arch_id, target.name, ekey, mkey))
    return ok


class Block:
    """What the round driver needs to store a target's final records."""

    def __init__(
        self,
        plan: Plan,
        store: Store,
        target: Target,
        fp: str,
        identity: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.plan, self.store, self.target, self.fp, self.identity, self.extra = (
            plan,
            store,
            target,
            fp,
            identity,
            extra,
        )
        self.failed = self.stored = 0

    def store_final(self, i: int, keys: MeasureKeys, result: dict[str, Any], tag: Any) -> None:
        """Store a network's final record (pooled rounds, or the error that ended it)."""
        self.stored += 1
        self.failed += not store_result(
            self.plan, self.store, self.target, self.fp, self.identity, i, keys, result, self.extra
        )


def round_recorder(driver: Any) -> Callable[[Any, dict[str, Any]], int]:
    """The stage loop's `record` for measurement rounds (pipeline.rounds.RoundDriver): hand each round's result to
    the driver; the bar advances once per round (a failed network: its rounds left), not for a re-measure it
    schedules, nor in the recovery pass (attempt -1, counted already). A re-measure answered `busy` (not run: the
    machine stayed disturbed) ends its round like a measured one."""

    def record(tag: Any, result: dict[str, Any]) -> int:
        retried = len(driver.retry)
        driver.handle(tag, result)
        if len(driver.retry) != retried or tag[2] == -1:
            return 0
        return 1 if result.get("status") in ("ok", BUSY) else driver.rounds - tag[1]

    return record


def count_disturbed(store: Store, todo: list[MeasureJob]) -> int:
    keys = [job.keys.measure_key for job in todo]
    found = 0
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ",".join("?" for _ in chunk)
        found += store.query(
            f"SELECT COUNT(*) FROM measurements WHERE disturbed=1 AND measure_key IN ({marks})", tuple(chunk)
        )[0][0]
    return found
