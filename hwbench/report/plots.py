"""What every figure shares: headless backend, a stable colour per block, thinning of huge point clouds, saving."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # reports are written headless; never open a window

import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

# Points drawn per block and panel; fronts always use every network. Beyond this a scatter only gets slower
# to draw and heavier to embed without showing more.
MAX_POINTS = 3000
LABELS = {
    "macs": "MACs",
    "params": "parameters",
    "median_ms": "median latency (ms)",
    "top1": "top-1 accuracy (%)",
    "map": "mAP@[.5:.95] (%)",
}


def slug(text: str) -> str:
    """A file-name-safe version of a target or block name."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def block_colors(blocks: list[str]) -> dict[str, tuple]:
    """A stable colour per block name (sorted; tab10, then tab20 for many blocks)."""
    names = sorted(set(blocks))
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {b: cmap(i % cmap.N) for i, b in enumerate(names)}


def thin(part: pd.DataFrame, limit: int = MAX_POINTS, seed: int = 0) -> pd.DataFrame:
    """At most `limit` rows, drawn reproducibly (all rows when there are fewer)."""
    return part if len(part) <= limit else part.sample(limit, random_state=seed)


def scale(column: str, values: np.ndarray | pd.Series) -> np.ndarray:
    """Values as plotted: accuracy in percent, everything else as is."""
    values = np.asarray(values, dtype=float)
    return 100 * values if column in ("top1", "top5", "map") else values


def log_axis(ax: Any, which: str, column: str) -> None:
    """Log scale on ax's x or y axis, ticks at 1, 2 and 5 per decade, plain numbers (MACs, params in millions)."""
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    millions = column in ("macs", "params")
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v / 1e6:g}M" if millions else f"{v:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def empty_axes(ax: plt.Axes, message: str) -> None:
    """An axes that says why it has nothing to show."""
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=9, color="#555", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def save(fig: Figure, stem: str, outdir: Path) -> dict[str, str]:
    """Write PNG and SVG files; return the PNG as base64 (embedded in the HTML) and the file names."""
    fig.savefig(outdir / f"{stem}.svg")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    png = buffer.getvalue()
    (outdir / f"{stem}.png").write_bytes(png)
    return {"png_b64": base64.b64encode(png).decode("ascii"), "png": f"{stem}.png", "svg": f"{stem}.svg", "id": stem}
