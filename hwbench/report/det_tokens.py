"""The detection section's table of pruning ViT detectors: each beside its dense counterpart on one target."""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from hwbench.analysis.canary import NORM_LABEL
from hwbench.report.tables import num, pct, render, text

ATTENTION_NOTE = (
    "Dense and pruned ViT detectors compute attention with the same module (explicit matmul–softmax–matmul) in "
    "every deploy form; speed-ups are per test image (dense / pruned on the same image), p10–p90 in brackets."
)
# Marks a speed-up whose dense and pruned detectors were timed while the machine ran at different speeds.
SHIFT_MARK = "†"
SHIFT_LEGEND = (
    "dense and pruned timed at different machine speeds (their canary ratio is beyond the canaries' noise): the raw "
    "speed-up carries the shift; the canary-normalised one assumes it slowed both detectors as much as the canary."
)


def pruning_table(part: pd.DataFrame) -> str:
    """HTML: per pruning ViT detector on this target, its knobs (the ablations side by side), mAP against the
    dense counterpart's, graph and end-to-end speed-ups per image, and the images it is slower on; "" if none."""
    if "pruning_knobs" not in part or part["pruning_knobs"].isna().all():
        return ""
    maps = dict(zip(part["arch_id"], part["map"], strict=False))
    rows, shifted = [], []
    for r in part[part["pruning_knobs"].notna()].sort_values(["space", "pruning_knobs"]).itertuples():
        mark = SHIFT_MARK if _flagged(getattr(r, "det_speed_differs", None)) else ""
        if mark:
            shifted.append(r)
        rows.append(
            {
                "space": r.space,
                "knobs": r.pruning_knobs,
                "map": r.map,
                "dense_map": maps.get(r.dense_arch_id),
                "backbone": _spread(
                    r.det_backbone_speedup_median, r.det_backbone_speedup_p10, r.det_backbone_speedup_p90, mark
                ),
                "graph": _spread(r.det_graph_speedup_median, r.det_graph_speedup_p10, r.det_graph_speedup_p90, mark),
                "e2e": _spread(r.det_e2e_speedup_median, r.det_e2e_speedup_p10, r.det_e2e_speedup_p90, mark),
                "slower": r.det_images_slower,
                "flag": "SLOWER than dense" if r.slower_than_dense is True else "",
            }
        )
    table = render(
        pd.DataFrame(rows),
        {
            "space": ("space", text),
            "knobs": ("pruning knobs", text),
            "map": ("mAP", pct),
            "dense_map": ("dense mAP", pct),
            "backbone": ("backbone speed-up", text),
            "graph": ("graph speed-up", text),
            "e2e": ("end-to-end speed-up", text),
            "slower": ("images slower", num),
            "flag": ("", text),
        },
    )
    return f"<p>{ATTENTION_NOTE}</p>{table}{shift_note(shifted)}"


def shift_note(shifted: list) -> str:
    """HTML: the legend of the shift mark, one line per marked detector (its canary ratio, the normalised figure)."""
    if not shifted:
        return ""
    lines = [
        f"{escape(str(r.space))}, {escape(str(r.pruning_knobs))}: canary ratio pruned/dense "
        f"{float(r.det_speed_shift):.3f}; canary-normalised end-to-end speed-up "
        f"{_times(r.det_e2e_speedup_median_canary_norm)} ({NORM_LABEL})"
        for r in shifted
    ]
    return f"<p>{SHIFT_MARK} {SHIFT_LEGEND}</p><ul>{''.join(f'<li>{line}</li>' for line in lines)}</ul>"


def _flagged(value: object) -> bool:
    return bool(value) if isinstance(value, (bool, np.bool_)) else False  # None / NaN: no canaries to compare


def _times(value: object) -> str:
    return "–" if value is None or pd.isna(value) else f"{float(value):.2f}×"  # type: ignore[arg-type]


def _spread(median: object, p10: object, p90: object, mark: str = "") -> str:
    if median is None or pd.isna(median):
        return "– (no dense counterpart timed here)"
    return f"{float(median):.2f}×{mark} [{float(p10):.2f}, {float(p90):.2f}]"  # type: ignore[arg-type]
