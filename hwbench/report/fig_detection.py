"""Detection figures per target: mAP against latency with NMS counted, and NMS time against the boxes per image."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hwbench.analysis.pareto import front_points
from hwbench.report.plots import empty_axes, log_axis, thin

# (cost column, axis label) of the two front panels: the same trained networks and images, without and with NMS.
FRONT_PANELS = (
    ("det_e2e_ms", "end-to-end ms (graph + NMS)"),
    ("det_graph_ms", "graph ms (backbone + head + decoding)"),
)
# (count column, axis label) of the NMS panels: NMS works on the boxes above the score threshold, and keeps some.
NMS_PANELS = (("above_threshold", "boxes above the score threshold"), ("kept", "boxes kept after NMS"))


def det_fronts_figure(
    part: pd.DataFrame, target: str, colors: dict[str, tuple], refs: pd.DataFrame | None = None
) -> Figure:
    """mAP against end-to-end and against graph-only latency (trained weights, test images): each block's
    networks (with their mAP intervals) and Pareto front, so a ranking that changes once NMS is counted shows as
    fronts that move; reference detectors (`--reference`) as labelled black stars, in no block."""
    fig, axes = plt.subplots(1, len(FRONT_PANELS), figsize=(4.6 * len(FRONT_PANELS), 3.9), constrained_layout=True)
    for ax, (cost, label) in zip(axes, FRONT_PANELS):
        has = part[part["map"].notna() & (part[cost] > 0)]
        if refs is not None:
            for r in refs[refs["map"].notna() & (refs[cost] > 0)].itertuples():
                x, y = float(getattr(r, cost)), 100 * float(r.map)
                ax.plot(x, y, "*", ms=11, color="black", mec="white", mew=0.6, zorder=5)
                ax.annotate(r.reference, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7, zorder=5)
        if has.empty:
            empty_axes(ax, f"no detector with a mAP and {label.split(' (')[0]} on {target}")
            continue
        for block, group in has.groupby("group", sort=True):
            x, y = group[cost].to_numpy(dtype=float), 100 * group["map"].to_numpy(dtype=float)
            ax.scatter(x, y, s=12, alpha=0.45, color=colors[block], linewidths=0, label=f"{block} (n={len(group)})")
            _map_bars(ax, group, x, y, colors[block])
            c, q = front_points(x, y)
            ax.step(c, q, where="post", color=colors[block], lw=1.6)
            ax.plot(c, q, "o", ms=5, mfc="none", mec=colors[block], mew=1.2)
        log_axis(ax, "x", cost)
        ax.set_xlabel(f"{label}, log scale")
        ax.set_ylabel("mAP@[.5:.95] (%)")
        ax.grid(alpha=0.3, which="both", lw=0.5)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[0].legend(handles, labels, fontsize=7, loc="lower right")
    fig.suptitle(f"{target}: per-block Pareto fronts of detectors, with and without NMS", fontsize=11)
    return fig


def _map_bars(ax: Any, group: pd.DataFrame, x: np.ndarray, y: np.ndarray, color: tuple) -> None:
    """Each mAP's 95% bootstrap interval over the evaluation images, as a faint vertical bar (where stored)."""
    if "map_ci_low" not in group:
        return
    low = 100 * group["map_ci_low"].to_numpy(dtype=float)
    high = 100 * group["map_ci_high"].to_numpy(dtype=float)
    has = np.isfinite(low) & np.isfinite(high)
    if has.any():
        bars = np.vstack([np.maximum(y - low, 0), np.maximum(high - y, 0)])[:, has]
        ax.errorbar(x[has], y[has], yerr=bars, fmt="none", ecolor=color, alpha=0.35, lw=0.8)


def nms_figure(images: pd.DataFrame, target: str, colors: dict[str, tuple]) -> Figure:
    """NMS time of every timed image against its boxes above the score threshold and kept, coloured by block."""
    fig, axes = plt.subplots(1, len(NMS_PANELS), figsize=(4.6 * len(NMS_PANELS), 3.7), constrained_layout=True)
    timed = images[images["nms_ms"].notna()] if len(images) else images
    for ax, (count, label) in zip(axes, NMS_PANELS):
        has = timed[timed[count].notna()] if len(timed) else timed
        if has.empty:
            empty_axes(ax, f"no image with NMS timed apart on {target} (NMS in the graph, or no trained detector)")
            continue
        for block, group in has.groupby("group", sort=True):
            shown = thin(group)
            ax.scatter(
                shown[count], shown["nms_ms"], s=9, alpha=0.4, color=colors[block], linewidths=0, rasterized=True,
                label=f"{block} ({group['arch_id'].nunique()} networks, {len(group)} images)",
            )  # fmt: skip
        ax.set_xlabel(label + " (per image)")
        ax.set_ylabel("NMS time (ms, median of the image's runs)")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, lw=0.5)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[0].legend(handles, labels, fontsize=7, loc="upper left")
    fig.suptitle(f"{target}: NMS time per image against the boxes it handles", fontsize=11)
    return fig
