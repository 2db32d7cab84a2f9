"""The report's table of pruning ViT detectors: a speed-up whose dense and pruned detectors ran at different machine
speeds is marked, with a legend giving the canary ratio and the canary-normalised speed-up; the rest are not."""

from __future__ import annotations

import math

import pandas as pd

from hwbench.report.det_tokens import SHIFT_LEGEND, SHIFT_MARK, pruning_table


def detector(knobs: str | None, e2e: float | None, shift: float, differs: object) -> dict:
    """A results-frame row of a pruning detector (knobs None: the dense one), speed-ups as given on every image."""
    return {
        "space": "det_vit_prune" if knobs else "det_vit",
        "arch_id": knobs or "dense",
        "pruning_knobs": knobs,
        "dense_arch_id": "dense" if knobs else None,
        "map": 0.2,
        "det_images_slower": 0,
        "slower_than_dense": False if knobs else None,
        "det_speed_shift": shift,
        "det_speed_differs": differs,
        "det_e2e_speedup_median_canary_norm": e2e * shift if e2e and shift == shift else math.nan,
        **{f"det_{p}_speedup_{s}": e2e for p in ("backbone", "graph", "e2e") for s in ("p10", "median", "p90")},
    }


def test_a_speedup_timed_at_different_machine_speeds_is_marked_with_its_legend() -> None:
    part = pd.DataFrame(
        [
            detector(None, None, math.nan, None),
            detector("keep 0.5", 1.2, 1.3, True),
            detector("keep 0.7", 1.1, 1.01, False),
            detector("keep 0.85", 1.05, math.nan, False),  # timed without canaries
        ]
    )
    html = pruning_table(part)
    assert html.count(f"1.20×{SHIFT_MARK} [1.20, 1.20]") == 3  # backbone, graph, end to end: one pair of windows
    assert f"1.10×{SHIFT_MARK}" not in html and "1.10× [1.10, 1.10]" in html and "1.05× [1.05, 1.05]" in html
    assert SHIFT_LEGEND in html
    assert "keep 0.5: canary ratio pruned/dense 1.300; canary-normalised end-to-end speed-up 1.56×" in html
    assert "keep 0.7:" not in html


def test_no_marked_speedup_no_legend() -> None:
    part = pd.DataFrame([detector(None, None, math.nan, None), detector("keep 0.7", 1.1, math.nan, False)])
    html = pruning_table(part)
    assert SHIFT_MARK not in html and SHIFT_LEGEND not in html
