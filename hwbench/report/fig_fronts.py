"""Per-target figure: each block's networks and Pareto front, quality against latency (and MACs, params)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from hwbench.analysis.data import Quality
from hwbench.analysis.pareto import front_points
from hwbench.analysis.stepfront import TargetFronts
from hwbench.report.plots import LABELS, empty_axes, log_axis, scale, thin


def fronts_figure(
    data: pd.DataFrame,
    target: str,
    quality: Quality,
    colors: dict[str, tuple],
    tf: TargetFronts | None = None,
    refs: pd.DataFrame | None = None,
) -> Figure:
    """Accuracy vs latency, MACs and params; without accuracy, MACs and params (capacity) vs latency.

    A front is a step line: at each cost, the best quality any network of the block reaches at or below it.
    Given the target's best-of-m curves (tf), the latency panel also draws them (dashed): the curves every
    comparison of the report uses, over the levels each block's networks occupy. Reference networks (refs, with
    `reference`) are black stars labelled with their names, on every panel; they belong to no block.
    """
    part = data[data["target"] == target]
    mine = refs[refs["target"] == target] if refs is not None else data.iloc[:0]
    panels = (
        [("median_ms", quality.column), ("macs", quality.column), ("params", quality.column)]
        if quality.is_accuracy
        else [("median_ms", "macs"), ("median_ms", "params")]
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(4.1 * len(panels), 3.9), constrained_layout=True)
    for ax, (cost, qual) in zip(axes, panels):
        has = part[part[qual].notna()] if qual in part else part.iloc[:0]
        if has.empty:
            empty_axes(ax, f"no network with {LABELS.get(qual, qual)} on {target}")
            continue
        for block, group in has.groupby("group", sort=True):
            shown = thin(group)
            label = f"{block} (n={len(group)}{'' if len(shown) == len(group) else f', {len(shown)} drawn'})"
            ax.scatter(
                scale(cost, shown[cost]),
                scale(qual, shown[qual]),
                s=9,
                alpha=0.35,
                color=colors[block],
                rasterized=True,
                label=label,
                linewidths=0,
            )
            c, q = front_points(group[cost].to_numpy(dtype=float), group[qual].to_numpy(dtype=float))
            ax.step(scale(cost, c), scale(qual, q), where="post", color=colors[block], lw=1.6)
            ax.plot(scale(cost, c), scale(qual, q), "o", ms=5, mfc="none", mec=colors[block], mew=1.2)
            if tf is not None and cost == "median_ms" and qual == quality.column and block in tf.blocks:
                _best_of_m(ax, tf, block, qual, colors[block])
        _references(ax, mine, cost, qual)
        log_axis(ax, "x", cost)
        if not quality.is_accuracy:
            log_axis(ax, "y", qual)
        ax.set_xlabel(LABELS.get(cost, cost) + " (log scale)")
        ax.set_ylabel(LABELS.get(qual, qual) + ("" if quality.is_accuracy else " (log scale)"))
        ax.grid(alpha=0.3, which="both", lw=0.5)
    handles = [h for ax in axes for h in ax.get_legend_handles_labels()[0]][: part["group"].nunique()]
    if handles:
        axes[0].legend(handles=handles, fontsize=7, loc="lower right")
    if tf is not None:
        axes[0].set_title(f"dashed: best of {tf.m} networks at ≥ each level", fontsize=8)
    what = "accuracy" if quality.is_accuracy else "capacity proxy (no accuracy in the store)"
    fig.suptitle(f"{target}: per-block Pareto fronts, {what}", fontsize=11)
    return fig


def _references(ax, refs: pd.DataFrame, cost: str, qual: str) -> None:
    """Each reference as a labelled star (those without a value on the panel's axes are left out)."""
    if qual not in refs or refs.empty:
        return
    shown = refs[refs[qual].notna() & refs[cost].notna()]
    for r in shown.itertuples():
        x, y = scale(cost, [getattr(r, cost)])[0], scale(qual, [getattr(r, qual)])[0]
        ax.plot(x, y, "*", ms=11, color="black", mec="white", mew=0.6, zorder=5)
        ax.annotate(r.reference, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7, zorder=5)


def _best_of_m(ax, tf: TargetFronts, block: str, qual: str, color: tuple) -> None:
    """θ(a) of one block, as latency against level, over the levels its networks occupy."""
    front = tf.blocks[block]
    mask = front.occupied(tf.levels)
    if mask.any():
        ax.plot(scale("median_ms", front.point[mask]), scale(qual, tf.levels[mask]), "--", color=color, lw=1.2)
