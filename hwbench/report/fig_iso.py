"""Per-target figure: latency at equal quality — each block against the best, and every pair over its shared range."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from hwbench.analysis.data import Quality
from hwbench.report.plots import LABELS, empty_axes, log_axis, scale


def speedup_figure(
    slowdown: pd.DataFrame,
    speedups: pd.DataFrame,
    target: str,
    quality: Quality,
    colors: dict[str, tuple],
    references: pd.DataFrame | None = None,
) -> Figure:
    """Left: each block's best-of-m latency over the best block's at each quality level, with its bootstrap band,
    and each reference network's latency over the best front's at its own quality (a labelled star).
    Right: speedup of the row block over the column block, geometric mean over the levels both occupy."""
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(12, 4.4), constrained_layout=True, gridspec_kw={"width_ratios": [1.25, 1]}
    )
    _slowdown_panel(left, slowdown[slowdown["target"] == target], quality, colors)
    if references is not None and not slowdown[slowdown["target"] == target].empty:
        _reference_points(left, references[references["target"] == target], quality)
    _matrix_panel(right, speedups[speedups["target"] == target], quality)
    fig.suptitle(f"{target}: latency at equal {quality.unit}", fontsize=11)
    return fig


def _slowdown_panel(ax: plt.Axes, part: pd.DataFrame, quality: Quality, colors: dict[str, tuple]) -> None:
    if part.empty:
        empty_axes(ax, "no block has a front on this target")
        return
    for block, curve in part.groupby("block", sort=True):
        curve = resample(curve, quality.log)
        x = scale(quality.column, curve["level"])
        ax.step(x, curve["slowdown"], where="pre", color=colors[block], lw=1.5, label=block)
        if curve["ci_low"].notna().any():
            ax.fill_between(x, curve["ci_low"], curve["ci_high"], step="pre", color=colors[block], alpha=0.15, lw=0)
    ax.axhline(1.0, color="#333", lw=0.8)
    log_axis(ax, "y", "slowdown")
    if quality.log:
        log_axis(ax, "x", quality.column)
    ax.set_xlabel(LABELS.get(quality.column, quality.column))
    ax.set_ylabel("latency / best block's latency")
    ax.set_title("each block vs the best block's best-of-m (band: pointwise bootstrap CI)", fontsize=9)
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=7)


def _reference_points(ax: plt.Axes, part: pd.DataFrame, quality: Quality) -> None:
    """A reference at (its quality, its latency / the fastest compared front's latency there)."""
    compared = part[part["status"] == "compared"]
    for name, rows in compared.groupby("reference", sort=True):
        best = rows.loc[rows["front_ms"].idxmin()]
        x = scale(quality.column, [best["ref_quality"]])[0]
        y = best["ref_ms"] / best["front_ms"]
        ax.plot(x, y, "*", ms=11, color="black", mec="white", mew=0.6, zorder=5)
        ax.annotate(f"{name} (vs {best['block']})", (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7)


def resample(curve: pd.DataFrame, log: bool, points: int = 120) -> pd.DataFrame:
    """A step curve read at evenly spaced levels: a dense grid draws thousands of slivers nobody can read.

    The value at a level holds from the previous grid level up to it, so each point takes the value of the
    first grid level at or above it.
    """
    levels = curve["level"].to_numpy()
    if len(levels) <= points:
        return curve
    spaced = (np.geomspace if log else np.linspace)(levels[0], levels[-1], points)
    return curve.iloc[np.minimum(np.searchsorted(levels, spaced, side="left"), len(levels) - 1)]


def _matrix_panel(ax: plt.Axes, pairs: pd.DataFrame, quality: Quality) -> None:
    blocks = sorted(set(pairs["block_x"]) | set(pairs["block_y"]))
    if len(blocks) < 2:
        empty_axes(ax, "a single block: no pair to compare")
        return
    index = {b: i for i, b in enumerate(blocks)}
    value = np.full((len(blocks), len(blocks)), np.nan)
    text = np.full(value.shape, "", dtype=object)
    bold = np.zeros(value.shape, dtype=bool)
    for _, r in pairs.iterrows():
        i, j = index[r["block_x"]], index[r["block_y"]]
        if not r["n_levels"]:
            text[i, j] = text[j, i] = "no shared\nrange"
            continue
        s, lo, hi = r["geomean_speedup"], r["geo_ci_low"], r["geo_ci_high"]
        value[i, j], value[j, i] = np.log2(s), -np.log2(s)
        ci = np.isfinite(lo) and np.isfinite(hi)
        text[i, j] = f"{s:.2f}×" + (f"\n({lo:.2f}–{hi:.2f})" if ci else "\nno CI")
        text[j, i] = f"{1 / s:.2f}×" + (f"\n({1 / hi:.2f}–{1 / lo:.2f})" if ci else "\nno CI")
        faster = r.get("faster", "")
        bold[i, j] = bold[j, i] = bool(faster)
    limit = max(np.nanmax(np.abs(value)) if np.isfinite(value).any() else 0, 0.25)
    image = ax.imshow(value, cmap="RdBu", norm=TwoSlopeNorm(0, -limit, limit))
    size = 8 if len(blocks) <= 5 else 6
    for (i, j), label in np.ndenumerate(text):
        ax.text(j, i, label, ha="center", va="center", fontsize=size, fontweight="bold" if bold[i, j] else "normal")
    ax.set_xticks(range(len(blocks)), blocks, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(blocks)), blocks, fontsize=8)
    ax.set_title("row over column: geo-mean over the shared range (bold: faster after Holm)", fontsize=9)
    bar = plt.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("log2 speedup (blue: row faster)", fontsize=8)
