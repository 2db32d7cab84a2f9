"""Across targets: does FLOPs predict latency, does the block ranking hold, who owns the combined front."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hwbench.report.plots import empty_axes


def across_figure(
    correlation: pd.DataFrame, ranks: pd.DataFrame, shares: pd.DataFrame, colors: dict[str, tuple]
) -> Figure:
    """Three panels: Spearman ρ of latency vs MACs/params; block rank per target; share of the combined front."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    _correlation_panel(axes[0], correlation)
    _rank_panel(axes[1], ranks)
    _share_panel(axes[2], shares, colors)
    fig.suptitle("across targets", fontsize=11)
    return fig


def _correlation_panel(ax: plt.Axes, table: pd.DataFrame) -> None:
    if table.empty:
        empty_axes(ax, "no successful measurement")
        return
    y = np.arange(len(table))
    for offset, proxy, color in ((-0.2, "macs", "#1f77b4"), (0.2, "params", "#ff7f0e")):
        rho = table[f"spearman_{proxy}"].fillna(0).to_numpy()
        ax.barh(y + offset, rho, height=0.38, color=color, label=f"{proxy} (pooled, with CI)")
        if f"{proxy}_ci_low" in table:
            low, high = table[f"{proxy}_ci_low"].to_numpy(float), table[f"{proxy}_ci_high"].to_numpy(float)
            ok = np.isfinite(low) & np.isfinite(high)
            err = np.array([rho - low, high - rho])[:, ok]
            ax.errorbar(rho[ok], (y + offset)[ok], xerr=np.clip(err, 0, None), fmt="none", ecolor="#333", lw=0.8)
        if f"within_{proxy}" in table:
            ax.plot(
                table[f"within_{proxy}"], y + offset, "D", color="w", mec=color, ms=4, label=f"{proxy} within blocks"
            )
    ax.set_yticks(y, table["target"], fontsize=8)
    ax.set_xlim(-1, 1)
    ax.axvline(0, color="#333", lw=0.8)
    ax.set_xlabel("Spearman ρ with latency")
    ax.set_title("does complexity predict latency?", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="x", lw=0.5)


def _rank_panel(ax: plt.Axes, ranks: pd.DataFrame) -> None:
    if ranks.empty:
        empty_axes(ax, "no fronts to rank")
        return
    table = ranks.pivot(index="target", columns="group", values="rank")
    image = ax.imshow(table.to_numpy(dtype=float), cmap="viridis_r", aspect="auto")
    for (i, j), value in np.ndenumerate(table.to_numpy(dtype=float)):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=8, color="w")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=8)
    ax.set_title("block rank per target (1 = fastest at equal quality)", fontsize=9)
    plt.colorbar(image, ax=ax, shrink=0.8)


def _share_panel(ax: plt.Axes, shares: pd.DataFrame, colors: dict[str, tuple]) -> None:
    if shares.empty:
        empty_axes(ax, "no combined front")
        return
    table = shares.pivot(index="target", columns="group", values="share_range").fillna(0)
    left = np.zeros(len(table))
    for block in table.columns:
        ax.barh(range(len(table)), table[block], left=left, color=colors[block], label=block, height=0.6)
        left += table[block].to_numpy()
    ax.set_yticks(range(len(table)), table.index, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the combined front's quality range")
    ax.set_title("who is fastest, over how much of the range", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
