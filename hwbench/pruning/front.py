"""Measure a search's front for real: each chosen anchor set becomes a pruned detector (checkpoint surgery, no
retraining), recorded with its mAP from the exact fast evaluation, and the unpruned detector plus the pruned ones
form a derived sweep `<sweep>-anchors-<search>` that the detection timing stage times in parts on every target
(local, Ray node or board) with the same protocol and images as the sweep, each artifact scoring its own mAP.

The unpruned detector is timed again in the same run, side by side, and each target's latency model is fitted to
that run, so predicted and measured figures of one target come from one session.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.pruning.run import PruneOutcome, PruneRequest
from hwbench.pruning.search import Node
from hwbench.pruning.setup import Trained
from hwbench.store import Store

SURGERY_VERSION = 1  # bump when the surgery changes what a pruned checkpoint holds


def derived_name(sweep: str, search_key: str) -> str:
    """The derived sweep of a search's measured front."""
    return f"{sweep}-anchors-{search_key[:8]}"


def chosen(front: list[Node], count: int | None) -> list[Node]:
    """`count` front points spread evenly along the front by cost (all when None or more than there are)."""
    if count is None or count >= len(front):
        return list(front)
    picks = np.unique(np.round(np.linspace(0, len(front) - 1, count)).astype(int))
    return [front[i] for i in picks]


def _record_pruned(
    store: Store,
    req: PruneRequest,
    trained: Trained,
    outcome: PruneOutcome,
    node: Node,
    derived: str,
    split: Any,
    cache: Any,
) -> tuple[Any, str]:
    """Surgery weights and an accuracy record (source 'pruned') for one front point: (spec, accuracy key)."""
    import torch

    from hwbench.accuracy.detection.bootstrap import map_interval
    from hwbench.accuracy.detection.cocoeval import evaluate_detections
    from hwbench.accuracy.trainer import save_weights
    from hwbench.pruning.anchor_index import box_anchor_ids
    from hwbench.pruning.fast_eval import detections
    from hwbench.pruning.surgery import prune_model
    from hwbench.space.archspec import ArchSpec
    from hwbench.store.keys import digest

    key = digest({"parent": trained.acc_key, "removed": sorted(node.removed), "surgery": SURGERY_VERSION}, 24)
    pruned_model, small = prune_model(trained.model(), trained.arch, node.removed)
    spec = ArchSpec(small)
    path = req.artifact_dir / "weights" / f"{key}.pt"
    if store.get_accuracy(key) is not None and path.is_file():
        return spec, key
    with torch.no_grad():
        weights = save_weights(pruned_model, str(path))
    ids = box_anchor_ids(trained.arch)
    found = [(d.boxes, d.scores, d.labels) for d in detections(cache, ids, node.removed, trained.nms)]
    metrics = evaluate_detections(split, found)
    low, high = map_interval(split, found)
    parent = store.get_accuracy(trained.acc_key)
    info = json.loads(parent["info_json"] or "{}")
    info.update(
        {
            "weights": {**weights, "path": os.path.relpath(weights["path"], store.path.parent)},
            "pruned_from": {
                "acc_key": trained.acc_key,
                "arch_id": trained.spec.arch_id,
                "removed": sorted(node.removed),
                "search": outcome.search_key,
                "surgery_version": SURGERY_VERSION,
            },
            "eval_images": len(split),
        }
    )
    row = {
        "acc_key": key,
        "arch_id": spec.arch_id,
        "dataset": parent["dataset"],
        "dataset_id": parent["dataset_id"],
        "schedule": parent["schedule"],
        "schedule_hash": parent["schedule_hash"],
        "evaluated_on": "torch",
        "source": "pruned",
        "status": "ok",
        **{k: metrics.get(k) for k in ("map", "map50", "map75", "map_small", "map_medium", "map_large")},
        "map_ci_low": low,
        "map_ci_high": high,
        "info_json": info,
    }
    from hwbench.measure.provenance import git_commit, machine_info

    store.put_accuracy(row, {"machine": machine_info(), "commit": git_commit()}, [(derived, spec.arch_id)])
    return spec, key


def measure_front(
    req: PruneRequest,
    outcome: PruneOutcome,
    targets: list[Path],
    count: int | None,
    progress: Any = None,
    retrain: bool = False,
) -> dict[str, Any]:
    """Time the unpruned detector and `count` front points on `targets` as a derived sweep (and, with `retrain`,
    the same pruned architectures trained from scratch on the sweep's schedule as a second one); store and return
    the measured parts against the predicted ones."""
    from hwbench.config.target import load_target
    from hwbench.pruning.anchor_index import pruned_arch
    from hwbench.pruning.run import cache_for
    from hwbench.pruning.setup import trained_detector
    from hwbench.space.archspec import ArchSpec

    derived = derived_name(req.sweep, outcome.search_key)
    loaded = [load_target(t) for t in targets]
    store = Store(req.store, create=False)
    try:
        trained = trained_detector(store, req.sweep, req.arch_id)
        split = trained.test_split()
        cache, _ = cache_for(trained, split, req.artifact_dir)
        points = [n for n in chosen(outcome.result.front, count) if n.removed]
        members = [(outcome.root, trained.spec)]
        members += [(n, ArchSpec(pruned_arch(trained.arch, n.removed))) for n in points]
        # The derived sweep first (so the pruned records can be linked to it), then the pruned detectors.
        _record_derived(store, req, outcome, derived, members, loaded)
        store.link_accuracy(derived, trained.spec.arch_id, trained.acc_key)
        given = {trained.spec.arch_id: trained.acc_key}
        for node in points:
            spec, key = _record_pruned(store, req, trained, outcome, node, derived, split, cache)
            given[spec.arch_id] = key
        if retrain:
            _record_derived(store, req, outcome, f"{derived}-retrained", members, loaded)
        schedule = req.artifact_dir / "anchor_cache" / f"{outcome.search_key[:16]}-schedule.yaml"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        schedule.write_text(json.dumps(trained.schedule))  # JSON is YAML
    finally:
        store.close()
    _run_derived(req, trained, derived, targets, schedule, given, progress)
    summary = _store_measurements(req, outcome, trained, derived, "pruned", members, loaded)
    if retrain:
        # Trained on the sweep's schedule and seed from scratch; only the unpruned detector's weights are given.
        name = f"{derived}-retrained"
        _run_derived(req, trained, name, targets, schedule, {trained.spec.arch_id: trained.acc_key}, progress)
        summary["retrained"] = _store_measurements(req, outcome, trained, name, "retrained", members, loaded)
    return summary


def _record_derived(
    store: Store, req: PruneRequest, outcome: PruneOutcome, name: str, members: list, targets: list
) -> None:
    """A derived sweep's networks (the unpruned detector first) and targets."""
    from hwbench.pipeline.sample import detector_facts

    rows = []
    for i, (node, spec) in enumerate(members):
        cx = {**_complexity(spec), **detector_facts(spec)}
        space = "unpruned" if not node.removed else "anchor-pruned"
        rows.append((space, i, spec.arch_id, spec.family, spec.block, spec.canonical_json, cx, "anchor pruning"))
    config = {"anchor_pruning": {"sweep": req.sweep, "arch_id": req.arch_id, "search": outcome.search_key}}
    store.record_sweep(name, 0, config, rows, [(t.name, str(t.source), t.config()) for t in targets])


def _run_derived(
    req: PruneRequest, trained: Trained, name: str, targets: list[Path], schedule: Path, given: dict, progress: Any
) -> None:
    """Train what is not given, then time every network in parts on the targets, in one fresh session."""
    from hwbench.pipeline.request import SweepRequest
    from hwbench.pipeline.run import run_sweep

    sweep = SweepRequest(
        name=name,
        spaces=[],
        targets=list(targets),
        store=req.store,
        artifacts=req.artifacts,
        report=False,
        dataset=trained.dataset_arg,
        schedule=schedule,
        train_seed=trained.seed,
        stage="train",
        given_weights=given,
        timing_session=name,
    )
    run_sweep(sweep, progress)


def _complexity(spec: Any) -> dict[str, int]:
    from hwbench.models.complexity import complexity

    return complexity(spec).as_dict()


def _store_measurements(
    req: PruneRequest,
    outcome: PruneOutcome,
    trained: Trained,
    derived: str,
    variant: str,
    members: list[tuple[Node, Any]],
    targets: list[Any],
) -> dict[str, Any]:
    """anchor_measurements rows of one derived sweep: measured parts of each point per target, its mAP, and (for
    the pruned variant) the latency model's prediction fitted to the unpruned detector timed in the same run."""
    from hwbench.measure.provenance import git_commit, machine_info
    from hwbench.pruning.costs import fit_latency
    from hwbench.store.detection import sweep_detection_timings
    from hwbench.store.pruning import put_measurement, removed_text

    store = Store(req.store, create=False)
    try:
        timings = {(r["arch_id"], r["target"]): r for r in sweep_detection_timings(store, derived)}
        maps = {r["arch_id"]: r["map"] for r in store.sweep_accuracies(derived)}
        base = store.query("SELECT macs, head_macs FROM archs WHERE arch_id=?", (trained.spec.arch_id,))[0]
        summary: dict[str, Any] = {"sweep": derived, "targets": {}}
        for target in targets:
            root = timings.get((trained.spec.arch_id, target.name))
            model = None
            if variant == "pruned" and root is not None and root["status"] == "ok" and root["placement"] == "host":
                model = fit_latency(target.name, root, int(base["macs"]), int(base["head_macs"]))
            errors = []
            for node, spec in members:
                t = timings.get((spec.arch_id, target.name))
                if t is None:
                    continue
                node_row = outcome.nodes[removed_text(node.removed)]
                predicted = None
                if model is not None:
                    removed_macs = int(base["macs"]) - int(node_row["macs"])
                    predicted = model.predict(removed_macs, float(node_row["mean_candidates"]))
                row = {
                    "search_key": outcome.search_key,
                    "removed": removed_text(node.removed),
                    "variant": variant,
                    "target": target.name,
                    "target_fp": t["target_fp"],
                    "status": t["status"],
                    "error": t["error"],
                    "map": maps.get(spec.arch_id),
                    "graph_ms": t["graph_ms"],
                    "nms_ms": t["nms_ms"],
                    "e2e_ms": t["e2e_ms"],
                    "predicted_graph_ms": predicted and predicted["graph_ms"],
                    "predicted_nms_ms": predicted and predicted["nms_ms"],
                    "predicted_e2e_ms": predicted and predicted["e2e_ms"],
                    "artifact_map": t["artifact_map"],
                    "info_json": {
                        "timing_key": t["timing_key"],
                        "arch_id": spec.arch_id,
                        "sweep": derived,
                        "model": model.as_dict() if model else None,
                    },
                }
                put_measurement(store, row, {"machine": machine_info(), "commit": git_commit()})
                if predicted and t["e2e_ms"] and node.removed:
                    errors.append(abs(predicted["e2e_ms"] / t["e2e_ms"] - 1))
            summary["targets"][target.name] = {
                "median_abs_error": float(np.median(errors)) if errors else None,
                "points": len(members),
            }
        return summary
    finally:
        store.close()


def measured_rows(req: PruneRequest, outcome: PruneOutcome, target: str, variant: str = "pruned") -> list[dict]:
    """A target's measured points of one variant (unpruned first) with boxes and the end-to-end speed-up over the
    unpruned detector measured in the same run."""
    from hwbench.store.pruning import measurements

    store = Store(req.store, create=False)
    try:
        found = [dict(r) for r in measurements(store, outcome.search_key)]
    finally:
        store.close()
    found = [r for r in found if r["target"] == target and r["variant"] == variant]
    found.sort(key=lambda r: (r["removed"] != "[]", -outcome.nodes[r["removed"]]["boxes"]))
    base = next((r["e2e_ms"] for r in found if r["removed"] == "[]"), None)
    out = []
    for r in found:
        speedup = base / r["e2e_ms"] if base and r["e2e_ms"] else None
        boxes = outcome.nodes[r["removed"]]["boxes"]
        out.append({**r, "removed": json.loads(r["removed"]), "boxes": boxes, "speedup": speedup})
    return out
