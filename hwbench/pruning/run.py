"""One anchor-pruning run: cache the trained detector's candidates once, search anchor sets by fast evaluation
(each scored set stored as it is scored, so an interrupted run resumes), store the search and its front, and
optionally validate front points against the surgically pruned network (the slow mode)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.errors import HwbenchError
from hwbench.pruning.search import STRATEGIES, Node, Removed, SearchResult, run_search
from hwbench.pruning.setup import Trained
from hwbench.store import Store


@dataclass(frozen=True)
class PruneRequest:
    """What `hwbench prune-anchors` asks for."""

    sweep: str
    arch_id: str
    store: Path
    strategy: str = "greedy"
    cost: str = "macs"  # macs | boxes | latency:TARGET
    min_map: float | None = None  # None: 90 % of the detector's own mAP
    max_nodes: int = 300
    validate: int = 0  # front points re-scored by running the pruned network (slow mode)
    artifacts: Path | None = None

    @property
    def artifact_dir(self) -> Path:
        """Where the prediction cache and pruned weights go (the sweep's artifact folder by default)."""
        return self.artifacts or self.store.parent / "artifacts"


@dataclass
class PruneOutcome:
    """A finished (or budget-stopped) search: its key, the original detector's node, the front, the nodes."""

    search_key: str
    root: Node
    result: SearchResult
    nodes: dict[str, Any]
    cache_bytes: int
    anchors: list[Any]
    images: int
    validation: list[dict[str, Any]] = field(default_factory=list)


def check_request(req: PruneRequest) -> None:
    """Option errors before anything is read or written."""
    if req.strategy not in STRATEGIES:
        raise HwbenchError(f"--strategy: expected one of {', '.join(STRATEGIES)}, got {req.strategy!r}")
    axis = req.cost.split(":", 1)[0]
    if axis not in ("macs", "boxes", "latency") or (axis == "latency") != (":" in req.cost):
        raise HwbenchError(f"--cost: expected macs, boxes or latency:TARGET, got {req.cost!r}")
    if req.min_map is not None and not 0 <= req.min_map <= 1:
        raise HwbenchError(f"--min-map: a fraction in [0, 1] (mAP 0.25 = 25 AP), got {req.min_map}")
    if req.max_nodes < 1 or req.validate < 0:
        raise HwbenchError("--max-nodes must be >= 1 and --validate >= 0")


def cache_for(trained: Trained, split: Any, folder: Path) -> Any:
    """The detector's prediction cache (built once per weights, split and score threshold; content-addressed)."""
    from hwbench.pruning.anchor_index import box_anchor_ids
    from hwbench.pruning.cache import PredictionCache, build_cache
    from hwbench.pruning.setup import raw_outputs
    from hwbench.store.keys import digest

    key = digest(
        {
            "weights": trained.weights_sha256,
            "arch": trained.spec.arch_id,
            "dataset": trained.dataset_id,
            "resolution": trained.resolution,
            "images": {"val_images": trained.schedule.get("val_images"), "seed": trained.seed + 1},
            "normalisation": [trained.mean, trained.std],
            "score_threshold": trained.nms.score_threshold,
        }
    )
    path = folder / "anchor_cache" / key
    if (path / "cache.json").is_file():
        return PredictionCache(path), key
    outputs = raw_outputs(trained.model(), split.images, trained.mean, trained.std)
    n = len(box_anchor_ids(trained.arch))
    return build_cache(path, outputs, trained.nms.score_threshold, n), key


def node_row(eval_key: str, trained: Trained, removed: Removed, scored: Any) -> dict[str, Any]:
    """An anchor set's stored row: quality, its counts and its costs."""
    from hwbench.pruning.costs import boxes, head_macs, network_macs
    from hwbench.store.pruning import removed_text

    metrics = {k: v for k, v in scored.metrics.items() if isinstance(v, (int, float)) or v is None}
    return {
        "eval_key": eval_key,
        "removed": removed_text(removed),
        "anchors": sum(trained.arch.anchors.per_level) - len(removed),
        "map": metrics.get("map"),
        "map50": metrics.get("map50"),
        "boxes": boxes(trained.arch, removed),
        "head_macs": head_macs(trained.arch, removed),
        "macs": network_macs(trained.arch, removed),
        "mean_candidates": float(np.mean(scored.above_threshold)) if scored.above_threshold else 0.0,
        "mean_kept": float(np.mean(scored.kept)) if scored.kept else 0.0,
        "metrics_json": metrics,
    }


def cost_function(req: PruneRequest, store: Store, trained: Trained) -> tuple[Callable[[Any], float], dict]:
    """(cost of a stored node row, what the cost is) for the request's axis."""
    axis, _, target = req.cost.partition(":")
    if axis == "macs":
        return (lambda row: float(row["head_macs"])), {"axis": "macs"}
    if axis == "boxes":
        return (lambda row: float(row["boxes"])), {"axis": "boxes"}
    model = latency_model(store, trained, target)

    def predicted(row: Any) -> float:
        return model.predict(model.macs - int(row["macs"]), float(row["mean_candidates"]))["e2e_ms"]

    return predicted, {"axis": "latency", "target": target, "kind": "predicted", "model": model.as_dict()}


def latency_model(store: Store, trained: Trained, target: str) -> Any:
    """The target's latency model of this detector, fitted to its stored detection timing (parts)."""
    from hwbench.pruning.costs import fit_latency

    rows = store.query(
        "SELECT d.* FROM sweep_detection_timings l JOIN detection_timings d ON d.timing_key = l.timing_key "
        "WHERE l.sweep=? AND l.arch_id=? AND l.target=?",
        (trained.sweep, trained.spec.arch_id, target),
    )
    if not rows:
        raise HwbenchError(
            f"--cost latency:{target}: sweep {trained.sweep!r} has no detection timing of this detector on "
            f"{target!r} (the sweep's trained detectors are timed in parts on its targets)"
        )
    arch = store.query("SELECT macs, head_macs FROM archs WHERE arch_id=?", (trained.spec.arch_id,))[0]
    try:
        return fit_latency(target, rows[0], int(arch["macs"]), int(arch["head_macs"]))
    except ValueError as exc:
        raise HwbenchError(f"--cost latency:{target}: {exc}") from None


def prune_anchors(req: PruneRequest, note: Callable[[str], None] = print) -> PruneOutcome:
    """Run (or resume) one search and store it; return the outcome."""
    from hwbench.pruning.anchor_index import anchors_of, box_anchor_ids
    from hwbench.pruning.fast_eval import score
    from hwbench.pruning.setup import trained_detector
    from hwbench.store.keys import digest
    from hwbench.store.pruning import get_nodes, put_node, put_search, removed_text

    check_request(req)
    store = Store(req.store, create=False)
    try:
        trained = trained_detector(store, req.sweep, req.arch_id)
        cost_of, cost_info = cost_function(req, store, trained)
        split = trained.test_split()
        cache, cache_key = cache_for(trained, split, req.artifact_dir)
        eval_key = digest({"cache": cache_key, "nms": trained.nms.key()})
        ids = box_anchor_ids(trained.arch)
        rows = {k: dict(r) for k, r in get_nodes(store, eval_key).items()}

        def row_of(removed: Removed) -> dict[str, Any]:
            text = removed_text(removed)
            if text not in rows:
                rows[text] = node_row(eval_key, trained, removed, score(cache, split, ids, removed, trained.nms))
                put_node(store, rows[text])
            return rows[text]

        # The default floor is relative to the unpruned detector's mAP on the same images the search scores.
        min_map = req.min_map if req.min_map is not None else round(0.9 * float(row_of(frozenset())["map"] or 0), 6)
        search_key = digest(
            {"eval": eval_key, "strategy": req.strategy, "cost": cost_info, "min_map": min_map, "max": req.max_nodes}
        )
        base = {
            "search_key": search_key,
            "sweep": req.sweep,
            "arch_id": req.arch_id,
            "acc_key": trained.acc_key,
            "eval_key": eval_key,
            "strategy": req.strategy,
            "cost": req.cost,
            "min_map": min_map,
            "max_nodes": req.max_nodes,
        }
        put_search(store, {**base, "status": "running"})
        result = run_search(
            req.strategy,
            anchors_of(trained.arch),
            lambda r: float(row_of(r)["map"] or 0.0),
            lambda r: cost_of(row_of(r)),
            min_map,
            req.max_nodes,
        )
        root = result.visited[0]
        validation = validate(trained, split, cache, ids, result.front, req.validate) if req.validate else []
        put_search(
            store,
            {
                **base,
                "status": "ok",
                "exhausted": int(result.exhausted),
                "visited_json": [sorted(n.removed) for n in result.visited],
                "front_json": [sorted(n.removed) for n in result.front],
                "info_json": {
                    "cost": cost_info,
                    "original_map": trained.map,
                    "cache": {"key": cache_key, "bytes": cache.bytes, "images": len(cache)},
                    "nms": trained.nms.key(),
                    "validation": validation,
                },
            },
        )
        if result.exhausted:
            note(f"the node budget ({req.max_nodes}) ran out before the search finished; raise --max-nodes to go on")
        return PruneOutcome(
            search_key, root, result, rows, cache.bytes, anchors_of(trained.arch), len(split), validation
        )
    finally:
        store.close()


def validate(trained: Trained, split: Any, cache: Any, ids: np.ndarray, front: list[Node], count: int) -> list[dict]:
    """Slow mode: the first `count` front points re-scored by running the surgically pruned network."""
    from hwbench.accuracy.detection.cocoeval import evaluate_detections
    from hwbench.postprocess.nms import postprocess
    from hwbench.pruning.fast_eval import score
    from hwbench.pruning.setup import raw_outputs
    from hwbench.pruning.surgery import prune_model

    model = trained.model()
    out = []
    for node in front[:count]:
        pruned, _ = prune_model(model, trained.arch, node.removed)
        dets = [postprocess(b, s, trained.nms) for b, s in raw_outputs(pruned, split.images, trained.mean, trained.std)]
        slow = evaluate_detections(split, [(d.boxes, d.scores, d.labels) for d in dets])["map"]
        fast = score(cache, split, ids, node.removed, trained.nms).metrics["map"]
        out.append({"removed": sorted(node.removed), "fast_map": fast, "slow_map": slow})
    return out


def describe(outcome: PruneOutcome) -> list[dict[str, Any]]:
    """The unpruned detector, then the front, as rows: anchors removed, mAP, boxes, head MACs, cost."""
    from hwbench.store.pruning import removed_text

    rows = []
    front = outcome.result.front
    for node in ([] if outcome.root in front else [outcome.root]) + front:
        r = outcome.nodes[removed_text(node.removed)]
        rows.append({**r, "removed": sorted(node.removed), "cost": node.cost})
    return rows
