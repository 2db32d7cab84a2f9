"""`hwbench show` for token-reduced ViTs: the per-image speed-up cells of pruning ViT detectors over their dense
counterparts (hwbench.analysis.det_tokens), and the table of classification ViTs next to their dense ones."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hwbench.cli.text import num, num_range, print_table

# Display columns of pruning ViT detectors → the results-frame part they show (det_<part>_speedup_*).
DET_SPEEDUP_PARTS = {"det_backbone_speedup": "backbone", "det_e2e_speedup": "e2e", "det_graph_speedup": "graph"}
SPEEDUP_NOTE = (
    "backbone × / graph × / e2e ×: a pruning detector's speed-up over its dense counterpart, dense / pruned per "
    "test image, median [p10–p90] over the images (the backbone alone, the graph, graph + NMS); "
    "slower = its median end-to-end speed-up is below 1"
)
# Marks a speed-up whose dense and pruned detectors were timed while the machine ran at different speeds.
SHIFT_MARK = "†"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def speedup_cell(part: str) -> Callable[[dict[str, Any]], str]:
    """The cell of one part's per-image speed-up: 1.32 [1.10–1.51]; – where not timed (or a dense network)."""

    def cell(r: dict[str, Any]) -> str:
        p10, median, p90 = (r.get(f"det_{part}_speedup_{s}") for s in ("p10", "median", "p90"))
        if _missing(median):
            return "–"
        mark = SHIFT_MARK if timed_at_other_speed(r) else ""
        return f"{float(median):.2f}{mark} [{float(p10):.2f}–{float(p90):.2f}]"

    return cell


def timed_at_other_speed(r: dict[str, Any]) -> bool:
    """A pruning ViT detector whose dense counterpart was timed at another machine speed (by their canaries)."""
    flag = r.get("det_speed_differs")
    return not _missing(flag) and bool(flag)


def speed_shift_note(records: list[dict[str, Any]]) -> str:
    """The legend of the shift mark with each marked detector's canary ratio and normalised speed-up; "" if none."""
    marked = [r for r in records if timed_at_other_speed(r) and not _missing(r.get("det_e2e_speedup_median"))]
    if not marked:
        return ""
    each = "; ".join(
        f"{r['arch_id']} on {r['target']}: canary ratio {float(r['det_speed_shift']):.3f}, canary-normalised e2e × "
        f"{num(r.get('det_e2e_speedup_median_canary_norm'))}"
        for r in marked
    )
    return (
        f"{SHIFT_MARK} = dense and pruned timed at different machine speeds (canary ratio pruned/dense beyond the "
        f"canaries' noise); canary-normalised speed-up (derived: assumes the shift slowed both as much as the "
        f"canary): {each}"
    )


def speedup_raw(part: str) -> tuple[str, ...]:
    """The results-frame columns a speed-up column writes in CSV / JSON (end to end: the slower flags and the
    machine-speed shift too)."""
    raw = tuple(f"det_{part}_speedup_{s}" for s in ("median", "p10", "p90"))
    if part != "e2e":
        return raw
    shift = ("det_speed_shift", "det_speed_differs", "det_e2e_speedup_median_canary_norm")
    return (*raw, "det_images_slower", "slower_than_dense", *shift)


def slower_detector(r: dict[str, Any]) -> bool:
    """A pruning ViT detector whose median end-to-end speed-up over its dense counterpart is below 1."""
    slower = r.get("slower_than_dense")
    return not _missing(r.get("det_e2e_speedup_median")) and not _missing(slower) and bool(slower)


def _image_ms(r: object) -> str:
    """Median [p10–p90] over images of each image's median latency, for artifacts timed image by image."""
    if getattr(r, "image_median_ms", None) is None or r.image_median_ms != r.image_median_ms:  # type: ignore[attr-defined]
        return "–"
    return f"{num(r.image_median_ms)} [{num(r.image_p10_ms)}–{num(r.image_p90_ms)}] ×{r.images_timed}"  # type: ignore[attr-defined]


def show_token_comparison(frame: Any, width: int, note: Callable[[str, int], None]) -> None:
    """Token-reduced ViTs next to their dense counterparts measured on the same target (if any)."""
    reduced = frame[frame["dense_median_ms"].notna()]
    if reduced.empty:
        return
    rows = [
        (
            r.space,
            r.arch_id,
            r.target,
            r.token_form,
            num_range(r.token_macs_min, r.token_macs_max, 1e6, "M"),
            num_range(r.tokens_min, r.tokens_max),
            num(r.median_ms),
            _image_ms(r),
            num(r.dense_median_ms),
            f"{r.speedup_vs_dense:.2f}x",
            "SLOWER than dense" if r.slower_than_dense else "",
        )
        for r in reduced.itertuples(index=False)
    ]
    header = ["space", "arch_id", "target", "token form", "MACs", "tokens", "ms", "per image ms", "dense ms"]
    print_table([*header, "speedup", ""], rows, width)
    sources = sorted({str(s) for s in reduced["token_inputs"].dropna()})
    if sources:
        note(f"MACs and token ranges over the images each network was prepared on: {'; '.join(sources)}", width)
