"""`hwbench prune-anchors`: which anchors a sweep's trained detector can lose (anchor pruning), resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hwbench.cli.common import DEFAULT_STORE, StoreOpt, app
from hwbench.cli.text import num, print_table


@app.command("prune-anchors")
def prune_anchors(
    name: Annotated[str, typer.Argument(help="Sweep name.")],
    arch: Annotated[str, typer.Option("--arch", help="arch_id of a trained detector of the sweep.")],
    strategy: Annotated[str, typer.Option(help="greedy, layerwise or shared.")] = "greedy",
    cost: Annotated[str, typer.Option(help="macs (head MACs), boxes, or latency:TARGET (predicted).")] = "macs",
    min_map: Annotated[
        float | None,
        typer.Option("--min-map", help="Lowest mAP (fraction) kept on the front; default 90% of the detector's."),
    ] = None,
    max_nodes: Annotated[int, typer.Option("--max-nodes", help="Most anchor sets scored.")] = 300,
    validate: Annotated[
        int, typer.Option(help="Re-score this many front points by running the pruned network (slow mode).")
    ] = 0,
    target: Annotated[
        list[str] | None,
        typer.Option("--target", "-t", help="Measure front points on this target, file or name (repeat)."),
    ] = None,
    points: Annotated[
        int | None, typer.Option(help="Front points measured per target, spread along the front (default: all).")
    ] = None,
    retrain: Annotated[
        bool, typer.Option(help="Also train the measured pruned architectures from scratch on the sweep's schedule.")
    ] = False,
    store: StoreOpt = DEFAULT_STORE,
    artifacts: Annotated[Path | None, typer.Option(help="Artifact folder (default: beside the store).")] = None,
) -> None:
    """Search the anchor sets of a trained detector by fast evaluation (cached predictions, masking, NMS, COCO mAP)
    and store every scored set and the front (mAP vs cost). Re-running resumes without scoring a set twice."""
    from hwbench.analysis.pruning import anchor_set_text
    from hwbench.pruning.run import PruneRequest, describe
    from hwbench.pruning.run import prune_anchors as run

    req = PruneRequest(name, arch, store, strategy, cost, min_map, max_nodes, validate, artifacts)
    outcome = run(req, note=lambda text: typer.echo(f"note: {text}", err=True))
    latency = cost.startswith("latency")
    headers = ["anchor set", "anchors", "mAP", "Δ mAP", "boxes", "head MMACs"]
    headers += [f"e2e ms on {cost.split(':', 1)[1]} (predicted)"] if latency else []
    rows = []
    for r in describe(outcome):
        row = (
            anchor_set_text(outcome.anchors, r["removed"]),
            r["anchors"],
            num(100 * (r["map"] or 0.0), 3),
            f"{100 * ((r['map'] or 0.0) - outcome.root.map):+.2f}",
            r["boxes"],
            num(r["head_macs"] / 1e6, 3),
        )
        rows.append(row + ((num(r["cost"], 3),) if latency else ()))
    result = outcome.result
    typer.echo(
        f"search {outcome.search_key[:12]} ({strategy}, cost {cost}): {len(result.visited)} anchor sets scored on "
        f"{outcome.images} images, {len(result.front)} on the front; mAP of the trained detector there "
        f"{100 * outcome.root.map:.2f} (first row); prediction cache {outcome.cache_bytes / 1e6:.1f} MB"
    )
    print_table(headers, rows)
    for v in outcome.validation:
        typer.echo(f"slow check {v['removed']}: fast mAP {v['fast_map']:.4f}, pruned network {v['slow_map']:.4f}")
    if target:
        _measure(req, outcome, target, points, retrain)
    elif retrain:
        typer.echo("note: --retrain needs --target (the retrained detectors are measured there)", err=True)


def _measure(req: object, outcome: object, targets: list[str], points: int | None, retrain: bool) -> None:
    """Measure the front on targets (derived sweeps) and print measured against predicted latency."""
    from hwbench.analysis.pruning import anchor_set_text
    from hwbench.paths import resolve
    from hwbench.progress import RichProgress
    from hwbench.pruning.front import measure_front, measured_rows

    files = [resolve(t, "targets", "--target") for t in targets]
    summary = measure_front(req, outcome, files, points, RichProgress(), retrain)  # type: ignore[arg-type]
    variants = [("pruned", summary)] + ([("retrained", summary["retrained"])] if retrain else [])
    for variant, facts_of in variants:
        for name, facts in facts_of["targets"].items():
            rows = [
                (
                    anchor_set_text(outcome.anchors, r["removed"]),  # type: ignore[attr-defined]
                    r["status"],
                    num(100 * r["map"], 3) if r["map"] is not None else "–",
                    num(100 * r["artifact_map"], 3) if r["artifact_map"] is not None else "–",
                    r["boxes"],
                    num(r["graph_ms"], 3),
                    num(r["nms_ms"], 3),
                    num(r["e2e_ms"], 3),
                    num(r["predicted_e2e_ms"], 3),
                    num(r["speedup"], 3),
                )
                for r in measured_rows(req, outcome, name, variant)  # type: ignore[arg-type]
            ]
            error = facts["median_abs_error"]
            how = "pruned by surgery, not retrained" if variant == "pruned" else "retrained from scratch"
            typer.echo(f"{name}, {how} (sweep {facts_of['sweep']}):")
            if variant == "pruned":
                text = f"{100 * error:.1f}%" if error is not None else "– (NMS in the graph, or no timing)"
                typer.echo(f"  predicted vs measured end to end: median |error| {text}")
            headers = ["anchor set", "status", "mAP", "artifact mAP", "boxes", "graph ms", "NMS ms", "e2e ms"]
            print_table([*headers, "e2e ms (predicted)", "× vs unpruned"], rows)
