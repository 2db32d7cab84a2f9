"""The distribution view: error EDFs per block, plain and complexity-normalised."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hwbench.report.plots import empty_axes

_TITLES = {
    "plain": "error EDF",
    "macs-normalised": "MACs-normalised error EDF",
    "params-normalised": "params-normalised error EDF",
}


def edf_figure(curves: pd.DataFrame, summary: pd.DataFrame, colors: dict[str, tuple]) -> Figure:
    """One panel per EDF kind; each block's step curve labelled with n, min and (weighted) mean error."""
    kinds = [k for k in _TITLES if k in set(curves["kind"])] or ["plain"]
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.9), constrained_layout=True, squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        part = curves[curves["kind"] == kind]
        if part.empty:
            empty_axes(ax, "no network has an accuracy")
            continue
        stats = summary[summary["kind"] == kind].set_index("group")
        for block, curve in part.groupby("group", sort=True):
            s = stats.loc[block]
            used = f"{s['n_used']}/{s['n']}" if kind != "plain" else f"{s['n']}"
            label = f"{block} (n={used}, min {100 * s['min_error']:.1f}%, mean {100 * s['mean_error']:.1f}%)"
            x = 100 * curve["error"].to_numpy()
            y = np.array([0.0, *curve["edf_upto"].to_numpy()])
            # F(e) rises just after each error value; start the curve at 0 left of the first network.
            ax.step([x[0], *x], y, where="post", color=colors[block], lw=1.5, label=label)
            band = float(s["band"]) if "band" in s else 0.0
            ax.fill_between(
                [x[0], *x],
                np.clip(y - band, 0, 1),
                np.clip(y + band, 0, 1),
                step="post",
                color=colors[block],
                alpha=0.12,
            )
        ax.set_xlabel("top-1 error (%)")
        ax.set_ylabel("cumulative share of networks" + (" (weighted)" if kind != "plain" else ""))
        ax.set_ylim(0, 1.02)
        bins = stats["bins"].dropna()
        ax.set_title(_TITLES[kind] + (f" ({int(bins.iloc[0])} common bins)" if len(bins) else ""), fontsize=9)
        ax.grid(alpha=0.3, lw=0.5)
        ax.legend(fontsize=6.5, loc="lower right")
    fig.suptitle(
        "distribution view: F(e) = share of networks with error below e"
        " (shaded: simultaneous DKW band at the report confidence)",
        fontsize=10,
    )
    return fig
