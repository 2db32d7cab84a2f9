"""What the analyses work on: one successful result per (network, target), and the quality axis to use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hwbench.analysis.canary import mixed_speed_notes


@dataclass(frozen=True)
class Quality:
    """The "higher is better" axis of the fronts: accuracy when the store has it, else complexity as a proxy."""

    column: str
    label: str
    is_accuracy: bool
    log: bool  # complexity spans decades: levels, midpoints and axes are logarithmic

    def fmt(self, value: float, unit: bool = True) -> str:
        """A level as a reader wants it: 70.1% top-1, or 312M MACs (unit=False: the number alone)."""
        if not np.isfinite(value):
            return "–"
        if self.is_accuracy:
            return f"{100 * value:.1f}%" + (f" {self.unit}" if unit else "")
        return f"{value / 1e6:,.3g}M" + (f" {self.unit}" if unit else "")

    def span(self, lo: float, hi: float) -> str:
        """A range of levels: 61.2–70.3% top-1."""
        low = f"{100 * lo:.1f}" if self.is_accuracy and np.isfinite(lo) else self.fmt(lo, unit=False)
        return f"{low}–{self.fmt(hi)}"

    @property
    def unit(self) -> str:
        """top-1, MACs or params."""
        return {"top1": "top-1", "top5": "top-5", "map": "mAP", "macs": "MACs"}.get(self.column, self.column)

    def reach(self, best: np.ndarray | float, tolerance: float) -> np.ndarray | float:
        """The highest level a front whose best network has quality `best` is taken to reach, within tolerance
        (absolute for accuracy, relative for complexity): a 0.1-point edge at the very top is noise, not reach."""
        return best * (1 + tolerance) if self.log else best + tolerance

    def default_tolerance(self) -> float:
        """0.5 accuracy points, or 5% of complexity."""
        return 0.05 if self.log else 0.005

    def mid(self, lo: float, hi: float) -> float:
        """Middle of a range on this axis (geometric for complexity)."""
        return float(np.sqrt(lo * hi)) if self.log and lo > 0 else (lo + hi) / 2


ACCURACY = Quality("top1", "top-1 accuracy", True, False)
# COCO mAP@[.5:.95] of a detector: an accuracy in [0, 1] on the same 0.5-point level grid as top-1.
MAP = Quality("map", "mAP@[.5:.95]", True, False)
PROXIES = {
    "macs": Quality("macs", "MACs (capacity proxy)", False, True),
    "params": Quality("params", "parameters (capacity proxy)", False, True),
}


def choose_quality(data: pd.DataFrame, proxy: str = "macs") -> Quality:
    """mAP if any successful result has one (a detection sweep), else top-1 if any has it, else the proxy."""
    if "map" in data and data["map"].notna().any():
        return MAP
    if "top1" in data and data["top1"].notna().any():
        return ACCURACY
    return PROXIES[proxy]


def usable(frame: pd.DataFrame, group: str = "block") -> tuple[pd.DataFrame, list[str]]:
    """Successful results with a positive latency, one per (network, target); and what was set aside, in words.

    Combined sweeps may point at the same measurement (counted once) or hold two measurements of one network
    on one target (the newest is kept, and a note says so), so no network weighs twice in a front or bootstrap.
    A note also says when one target's results come from blocks whose canaries show different machine speeds.
    """
    notes: list[str] = []
    ok = frame[(frame["status"] == "ok") & (frame["median_ms"] > 0)].copy()
    ok["group"] = ok[group].astype(str)
    key = ["arch_id", "target"]
    if "measure_key" in ok:
        ok = ok.drop_duplicates([*key, "measure_key"])
    ok = ok.sort_values("measured_at", kind="stable", na_position="first")
    repeated = ok.duplicated(key, keep="last")
    if repeated.any():
        for target, n in ok[repeated].groupby("target").size().items():
            notes.append(
                f"{n} network(s) on target {target} were measured in more than one of the combined sweeps; "
                "the newest measurement of each is used"
            )
        ok = ok[~repeated]
    # Measurements of one target from blocks that ran at different machine speeds (their canaries say so).
    notes += mixed_speed_notes(ok)
    return ok.sort_values(["target", "group", "arch_id"]).reset_index(drop=True), notes


def with_quality(data: pd.DataFrame, quality: Quality) -> pd.DataFrame:
    """The rows that have a finite, positive-or-zero value on the quality axis."""
    values = pd.to_numeric(data[quality.column], errors="coerce") if quality.column in data else np.nan
    return data[np.isfinite(values) & (values >= 0)] if isinstance(values, pd.Series) else data.iloc[:0]


# -- accuracy uncertainty: a top-1 measured on n evaluation images is a binomial proportion ------------------------


def eval_sizes(data: pd.DataFrame) -> np.ndarray:
    """Evaluation images behind each row's accuracy (NaN where the record does not say, e.g. an old import)."""
    if "eval_images" not in data:
        return np.full(len(data), np.nan)
    n = pd.to_numeric(data["eval_images"], errors="coerce").to_numpy(dtype=float)
    if "map" in data:  # a mAP is no proportion of images: no binomial basis (its spread comes from map_sd)
        n = np.where(pd.to_numeric(data["map"], errors="coerce").notna().to_numpy(), np.nan, n)
    return np.where(np.isfinite(n) & (n >= 1), n, np.nan)


def wilson_interval(top1: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion measured on n images (NaN where n is unknown)."""
    from scipy import stats

    p, n = np.asarray(top1, dtype=float), np.asarray(n, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def with_accuracy_ci(frame: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """The frame with top1_ci_low / top1_ci_high: each accuracy's Wilson interval over its evaluation images."""
    if "top1" not in frame:
        return frame
    lo, hi = wilson_interval(pd.to_numeric(frame["top1"], errors="coerce"), eval_sizes(frame), confidence)
    return frame.assign(top1_ci_low=lo, top1_ci_high=hi)


# Confidence of the stored mAP intervals (map_ci_low/high): the detection trainer's map_interval default.
MAP_CI_CONFIDENCE = 0.95

# Below this many errors (or correct images) the posterior is drawn as a Beta; above it, as a normal law with the
# posterior's mean, sd and skewness (first-order Cornish–Fisher): its quantiles match the Beta's within 0.02 sd
# (tests/analysis/test_accuracy_uncertainty.py) at a third of the cost, which matters at 10⁸ draws (1,000
# replicates of 100k results).
NORMAL_FROM = 10


def map_sd(data: pd.DataFrame, confidence: float = MAP_CI_CONFIDENCE) -> np.ndarray:
    """Standard error of each row's mAP from its bootstrap interval over evaluation images, (high − low)/(2z);
    NaN where the record has no interval (stored before schema 5, or no object to score)."""
    if "map_ci_low" not in data or "map_ci_high" not in data:
        return np.full(len(data), np.nan)
    from scipy import stats

    low = pd.to_numeric(data["map_ci_low"], errors="coerce").to_numpy(dtype=float)
    high = pd.to_numeric(data["map_ci_high"], errors="coerce").to_numpy(dtype=float)
    sd = (high - low) / (2 * stats.norm.ppf(0.5 + confidence / 2))
    return np.where(np.isfinite(sd) & (sd >= 0), sd, np.nan)


def accuracy_spread(data: pd.DataFrame, quality: Quality) -> tuple[np.ndarray, np.ndarray]:
    """What each row's quality is redrawn from in a bootstrap replicate: (evaluation images of a top-1, standard
    error of a mAP); NaN where unknown, and both NaN on a complexity axis (exact)."""
    nan = np.full(len(data), np.nan)
    if not quality.is_accuracy:
        return nan, nan
    if quality.column == "map":
        return nan, map_sd(data)
    return eval_sizes(data), nan


def accuracy_draws(
    top1: np.ndarray, n: np.ndarray, rng: np.random.Generator, size: int, sd: np.ndarray | None = None
) -> np.ndarray:
    """(size, networks) accuracies redrawn from each network's Jeffreys posterior Beta(k + ½, n − k + ½), k the
    correctly classified images, or, for a mAP with a standard error sd (and no n), from a normal law around it
    clipped to [0, 1]; a network with neither keeps its measured value."""
    p, n = np.asarray(top1, dtype=float), np.asarray(n, dtype=float)
    known = np.isfinite(n)
    sd = np.full(p.size, np.nan) if sd is None else np.asarray(sd, dtype=float)
    spread = ~known & np.isfinite(sd) & (sd > 0)
    if spread.any():  # drawn after the binomial ones, so top-1-only replicates keep their random stream
        out = accuracy_draws(p, n, rng, size)
        z = rng.standard_normal((size, int(spread.sum())))
        out[:, spread] = np.clip(p[spread] + sd[spread] * z, 0.0, 1.0)
        return out
    k = np.round(np.where(known, p * n, 0))
    a, b = k + 0.5, np.where(known, n, 0) - k + 0.5
    smooth = known & (np.minimum(a, b) >= NORMAL_FROM)
    skewed = known & ~smooth
    x = None
    if smooth.any():
        a_, b_ = a[smooth], b[smooth]
        mean = a_ / (a_ + b_)
        sd = np.sqrt(mean * (1 - mean) / (a_ + b_ + 1))
        skew = 2 * (b_ - a_) * np.sqrt(a_ + b_ + 1) / ((a_ + b_ + 2) * np.sqrt(a_ * b_))
        z = rng.standard_normal((size, int(smooth.sum())))
        x = z * z  # in place from here: four (size × networks) temporaries would cost more than the draws
        x -= 1
        x *= skew / 6
        x += z
        x *= sd
        x += mean
        np.clip(x, 0.0, 1.0, out=x)
        if smooth.all():
            return x
    out = np.broadcast_to(p, (size, p.size)).copy()
    if x is not None:
        out[:, smooth] = x
    if skewed.any():
        out[:, skewed] = rng.beta(a[skewed], b[skewed], (size, int(skewed.sum())))
    return out


def accuracy_basis(frame: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and schedule: networks, evaluation images, resolution, and one image in accuracy points."""
    columns = ["dataset", "schedule", "networks", "eval_images", "resolution", "one_image_points"]
    if "top1" not in frame or frame["top1"].isna().all():
        return pd.DataFrame(columns=columns)
    acc = frame[frame["top1"].notna()].drop_duplicates("arch_id")
    acc = acc.assign(
        _n=eval_sizes(acc),
        _r=pd.to_numeric(acc["eval_resolution"], errors="coerce") if "eval_resolution" in acc else np.nan,
    )
    rows = []
    for (dataset, schedule), part in acc.groupby(["dataset", "schedule"], sort=True, dropna=False):
        n = part["_n"].dropna()
        rows.append(
            {
                "dataset": dataset,
                "schedule": schedule,
                "networks": len(part),
                "eval_images": int(n.min()) if len(n) else None,
                "resolution": int(part["_r"].dropna().iloc[0]) if part["_r"].notna().any() else None,
                "one_image_points": 100.0 / n.min() if len(n) else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def detection_basis(frame: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and schedule of the detectors: networks with a mAP, how many of them have a bootstrap interval,
    its median width in points, evaluation images and resolution."""
    columns = ["dataset", "schedule", "networks", "with_interval", "median_width_points", "eval_images", "resolution"]
    if "map" not in frame or frame["map"].isna().all():
        return pd.DataFrame(columns=columns)
    acc = frame[frame["map"].notna()].drop_duplicates("arch_id")
    width = _numeric(acc, "map_ci_high") - _numeric(acc, "map_ci_low")
    acc = acc.assign(_n=_numeric(acc, "map_eval_images"), _r=_numeric(acc, "eval_resolution"), _w=100 * width)
    rows = [
        {
            "dataset": dataset,
            "schedule": schedule,
            "networks": len(part),
            "with_interval": int(part["_w"].notna().sum()),
            "median_width_points": float(part["_w"].median()) if part["_w"].notna().any() else float("nan"),
            "eval_images": int(part["_n"].min()) if part["_n"].notna().any() else None,
            "resolution": int(part["_r"].dropna().iloc[0]) if part["_r"].notna().any() else None,
        }
        for (dataset, schedule), part in acc.groupby(["dataset", "schedule"], sort=True, dropna=False)
    ]
    return pd.DataFrame(rows, columns=columns)


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as floats (NaN where absent or not a number)."""
    if column not in frame:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[column], errors="coerce")
