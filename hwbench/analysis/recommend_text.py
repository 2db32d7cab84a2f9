"""The evidence behind each keep/drop verdict, in words (hwbench.analysis.recommend decides; this explains)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _x(value: float) -> str:
    return f"{value:.2f}×" if np.isfinite(value) else "∞"


def _support(row: dict[str, Any]) -> str:
    if not row["replicates"]:
        return "no bootstrap"
    return f"bootstrap support {row['support']:.3f} ± {row['support_se']:.3f} over {row['replicates']} replicates"


def evidence(cover: Any, row: dict[str, Any], others: list[str], dropped: list[str], confidence: float, small: int):
    """One sentence for a verdict row (see recommend.recommend)."""
    tf, q = cover.tf, cover.tf.quality
    name, verdict, cost = row["group"], row["verdict"], row.get("cost", np.nan)
    front = tf.blocks[name]
    span = q.span(front.lo, front.top) if np.isfinite(front.top) else q.span(front.lo, front.hi)
    if not q.is_accuracy:
        span += f" ({q.unit}, no accuracy in the store)"
    if verdict == "no verdict":
        return (
            f"only {front.n} network(s), fewer than {small}: at this size the bootstrap support of a drop changes "
            "with the bootstrap seed, so no verdict is given; measure more networks (docs/statistics.md)"
        )
    if not others:
        if dropped:
            return f"the only block kept; it stands in for {', '.join(dropped)}"
        return "the only block with a verdict on this target"
    lower = min(tf.blocks[o].lo for o in others)
    below = (
        f"; its networks reach only {q.span(front.lo, front.hi)}, below every other kept block's least accurate "
        f"network ({q.fmt(lower)}): the cheapest option below {q.fmt(lower)}, not ranked against blocks above it"
        if front.hi < lower
        else ""
    )
    if verdict == "drop":
        verb = "are" if "," in row["covered_by"] else "is"
        return (
            f"{row['covered_by']} {verb} within {_x(cost)} of its latency on average over {span} (geometric mean of "
            f"the best-of-{tf.m} latency ratio; up to {_x(cover.limit)} allowed); {_support(row)}, "
            f"{confidence:.2f} needed (support is a share of replicates, not a probability)"
        )
    if verdict == "keep (uncertain)":
        return (
            f"on the measured networks the other kept blocks are within {_x(cost)} of it on average over {span}, "
            f"but {_support(row)} is below {confidence:.2f}: measure more networks before dropping it"
        )
    if np.isinf(cost):
        text = f"no other kept block reaches every level of its range ({span}) within the quality tolerance"
    else:
        text = f"without it the kept blocks would be {_x(cost)} its latency on average over {span}"
    stands_in = row.get("stands_in", "")
    return text + below + (f"; it stands in for {stands_in}" if stands_in else "")
