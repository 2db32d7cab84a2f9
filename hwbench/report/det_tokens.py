"""The detection section's table of pruning ViT detectors: each beside its dense counterpart on one target."""

from __future__ import annotations

import pandas as pd

from hwbench.report.tables import num, pct, render, text

ATTENTION_NOTE = (
    "Dense and pruned ViT detectors compute attention with the same module (explicit matmul–softmax–matmul) in "
    "every deploy form; speed-ups are per test image (dense / pruned on the same image), p10–p90 in brackets."
)


def pruning_table(part: pd.DataFrame) -> str:
    """HTML: per pruning ViT detector on this target, its knobs (the ablations side by side), mAP against the
    dense counterpart's, graph and end-to-end speed-ups per image, and the images it is slower on; "" if none."""
    if "pruning_knobs" not in part or part["pruning_knobs"].isna().all():
        return ""
    maps = dict(zip(part["arch_id"], part["map"], strict=False))
    rows = []
    for r in part[part["pruning_knobs"].notna()].sort_values(["space", "pruning_knobs"]).itertuples():
        rows.append(
            {
                "space": r.space,
                "knobs": r.pruning_knobs,
                "map": r.map,
                "dense_map": maps.get(r.dense_arch_id),
                "backbone": _spread(
                    r.det_backbone_speedup_median, r.det_backbone_speedup_p10, r.det_backbone_speedup_p90
                ),
                "graph": _spread(r.det_graph_speedup_median, r.det_graph_speedup_p10, r.det_graph_speedup_p90),
                "e2e": _spread(r.det_e2e_speedup_median, r.det_e2e_speedup_p10, r.det_e2e_speedup_p90),
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
    return f"<p>{ATTENTION_NOTE}</p>{table}"


def _spread(median: object, p10: object, p90: object) -> str:
    if median is None or pd.isna(median):
        return "– (no dense counterpart timed here)"
    return f"{float(median):.2f}× [{float(p10):.2f}, {float(p90):.2f}]"  # type: ignore[arg-type]
