"""`hwbench compare-sweeps A B`: two sweeps (two runs, two machines) artifact by artifact and latency by latency."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hwbench.cli.common import DEFAULT_STORE, StoreOpt, app
from hwbench.cli.text import num, print_table


@app.command("compare-sweeps")
def compare_sweeps(
    a: Annotated[str, typer.Argument(help="First sweep (the reference).")],
    b: Annotated[str, typer.Argument(help="Second sweep, compared with the first.")],
    store: StoreOpt = DEFAULT_STORE,
    store_b: Annotated[
        Path | None, typer.Option("--store-b", help="Store of the second sweep (default: --store).")
    ] = None,
    artifacts_a: Annotated[
        Path | None, typer.Option("--artifacts-a", help="Artifact folder of A (default: beside its store).")
    ] = None,
    artifacts_b: Annotated[
        Path | None, typer.Option("--artifacts-b", help="Artifact folder of B (default: beside its store).")
    ] = None,
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    networks: Annotated[bool, typer.Option("--networks/--summary-only", help="List every network.")] = True,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write pairs and summary as JSON.")] = None,
) -> None:
    """Per network and target: both latencies, whether the artifacts are identical, the ratio B/A and whether each
    median lies inside the other's 95% interval; per target: median ratio, median |Δ| and Spearman ρ, the canary
    ratio B/A of the blocks that measured them, and a warning with canary-normalised figures (derived) beside the
    raw ones when the machine's speed differed between the sweeps."""
    from hwbench.analysis.compare import pair_sweeps, setup_differences, summarise
    from hwbench.analysis.provenance import load_provenance
    from hwbench.analysis.table import require_rows, results_frame
    from hwbench.export import get_exporter
    from hwbench.export.artifacts import ArtifactStore
    from hwbench.store import Store

    second = store_b or store
    frames = []
    for name, path in ((a, store), (b, second)):
        frame = results_frame(Store(path, create=False), [name])
        require_rows(frame, [name])
        frames.append(frame[frame["target"] == target] if target else frame)
    folders = {
        "a": ArtifactStore(artifacts_a or store.parent / "artifacts"),
        "b": ArtifactStore(artifacts_b or second.parent / "artifacts"),
    }

    def locate(side: str, digest: object, fmt: object) -> Path | None:
        if not isinstance(digest, str) or not isinstance(fmt, str):
            return None
        return folders[side].path(digest, get_exporter(fmt).extension)

    pairs = pair_sweeps(frames[0], frames[1], locate)
    summary = summarise(pairs)
    docs = [
        load_provenance(Store(path, create=False), f["prov_id"].dropna().tolist())
        for f, path in zip(frames, (store, second))
    ]
    setup = setup_differences(frames[0], docs[0], frames[1], docs[1])
    if networks:
        _print_pairs(pairs)
    _print_summary(summary, a, b)
    speed = speed_lines(summary)
    for line in speed:
        typer.echo(line)
    for line in setup:
        typer.echo(f"setup: {line}")
    if json_out:
        doc = {
            "a": {"sweep": a, "store": str(store)},
            "b": {"sweep": b, "store": str(second)},
            "summary": json.loads(summary.to_json(orient="records")),
            "setup_differences": setup,
            "machine_speed": speed,
            "pairs": json.loads(pairs.to_json(orient="records")),
        }
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(doc, indent=1))
        typer.echo(f"→ {json_out}")


def _yes(value: object) -> str:
    return "–" if value is None or value != value else ("yes" if value else "no")


def _print_pairs(pairs: object) -> None:
    rows = [
        (
            r.target,
            r.space,
            r.arch_id,
            r.identity,
            num(r.median_ms_a),
            f"{num(r.ci_low_ms_a)}–{num(r.ci_high_ms_a)}",
            num(r.median_ms_b),
            f"{num(r.ci_low_ms_b)}–{num(r.ci_high_ms_b)}",
            num(r.ratio),
            _yes(r.b_in_a),
            _yes(r.a_in_b),
        )
        for r in pairs.itertuples(index=False)  # type: ignore[attr-defined]
    ]
    headers = ["target", "space", "arch_id", "artifacts", "A ms", "A 95% CI", "B ms", "B 95% CI", "B/A"]
    print_table([*headers, "B in A's CI", "A in B's CI"], rows)


def speed_lines(summary: object) -> list[str]:
    """Per target: the canary ratio B/A, and a warning with raw and canary-normalised figures when it is beyond
    the canaries' own noise (hwbench.measure.machine_speed)."""
    from hwbench.analysis.canary import NORM_LABEL

    lines = []
    for s in summary.itertuples(index=False):  # type: ignore[attr-defined]
        if not s.canary_pairs:
            lines.append(
                f"canary: {s.target}: no canary comparison (results measured before blocks recorded their canary, "
                "or with different canaries)"
            )
            continue
        lines.append(
            f"canary: {s.target}: canary B/A {s.canary_ratio:.3f} (noise tolerance ±{s.canary_tolerance:.1%}), "
            f"over {s.canary_pairs} of {s.measured_both} networks"
        )
        if s.canary_differs:
            lines.append(
                f"warning: {s.target}: the machine's speed differed between the sweeps (canary B/A "
                f"{s.canary_ratio:.3f}, beyond ±{s.canary_tolerance:.1%}, for {s.canary_differs} of {s.canary_pairs} "
                f"networks): raw median B/A {s.median_ratio:.3f}, median |Δ| {_pct(s.median_abs_delta)}; {NORM_LABEL}: "
                f"median B/A {s.median_ratio_canary_norm:.3f}, median |Δ| {_pct(s.median_abs_delta_canary_norm)} "
                "(each latency divided by its own block's canary; assumes the shift slowed every network alike)"
            )
    return lines


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%" if value == value else "–"


def _print_summary(summary: object, a: str, b: str) -> None:
    rows = [
        (
            s.target,
            f"{s.identical}/{s.networks}" + (f" (+{s.same_content} same content)" if s.same_content else ""),
            f"{num(s.median_ratio)} ({num(s.ratio_p10)}–{num(s.ratio_p90)})",
            f"{100 * s.median_abs_delta:.1f}%" if s.median_abs_delta == s.median_abs_delta else "–",
            f"{s.b_in_a}/{s.measured_both}",
            f"{s.a_in_b}/{s.measured_both}",
            num(s.spearman),
            num(s.canary_ratio),
        )
        for s in summary.itertuples(index=False)  # type: ignore[attr-defined]
    ]
    typer.echo(f"\nB = {b} against A = {a}")
    headers = ["target", "identical artifacts", "B/A median (p10–p90)", "median |Δ|", "B in A's CI", "A in B's CI"]
    print_table([*headers, "Spearman ρ", "canary B/A"], rows)
