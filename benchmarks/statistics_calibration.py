"""Issue 19 findings 1–5, 8, 9: each numeric case before (the sample-front code of commit ca2f36d) and after.

Synthetic populations with a known truth (tests/analysis/populations.py: accuracy uniform on 60–80%, latency
exp(8·(q − 0.6)) × lognormal(0, 0.15) × factor); hwbench's own functions, old and new, on the same draws.
Figures: interval coverage of the truth, bias of the log speedup, verdict rates, stability across bootstrap seeds.
Usage: python benchmarks/statistics_calibration.py [--trials 200] [--boot 200]   (about 3 minutes at the defaults;
--trials 20 --boot 100 is a smoke run). Writes benchmarks/results/statistics_calibration.{txt,json}.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import ROOT, save, table

from hwbench.analysis.data import ACCURACY
from hwbench.analysis.inference import holm
from tests.analysis.populations import draw

OLD_COMMIT = "ca2f36d"  # the last commit with the sample-front (step function) comparisons


def old_modules():
    """The old stepfront/iso/recommend, loaded from git into a temp package (None when git cannot give them)."""
    out = Path(tempfile.mkdtemp(prefix="hwbench-old-"))
    try:
        for name in ("stepfront", "iso", "recommend"):
            src = subprocess.run(
                ["git", "show", f"{OLD_COMMIT}:hwbench/analysis/{name}.py"], cwd=ROOT, capture_output=True, check=True
            ).stdout.decode()
            src = src.replace("from hwbench.analysis.stepfront import", "from old_stepfront import")
            (out / f"old_{name}.py").write_text(src)
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    sys.path.insert(0, str(out))
    return {n: importlib.import_module(f"old_{n}") for n in ("stepfront", "iso", "recommend")}


def frame(blocks: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[pd.DataFrame, np.ndarray]:
    """A results table of the blocks, and a zero-spread noise table (the population has no measurement noise)."""
    parts = [pd.DataFrame({"target": "t", "group": b, "top1": q, "median_ms": lat}) for b, (q, lat) in blocks.items()]
    data = pd.concat(parts, ignore_index=True)
    return data, np.repeat(data["median_ms"].to_numpy()[:, None], 2, axis=1)


def new_fronts(blocks, boot, seed):
    from hwbench.analysis.stepfront import target_fronts

    data, noise = frame(blocks)
    return target_fronts(data, ACCURACY, noise, boot, seed)["t"]


def old_fronts(old, blocks, boot, seed):
    data, noise = frame(blocks)
    return old["stepfront"].target_fronts(data, ACCURACY, noise, boot, seed)["t"]


def pair_rows(old, n_x, n_y, factor, trials, boot):
    """Per trial, the x–y summary row of the old and the new code on the same draws."""
    from hwbench.analysis.iso import pair_tables

    before, after = [], []
    for i in range(trials):
        rng = np.random.default_rng(10_000 + 97 * n_x + n_y + i)
        blocks = {"x": draw(rng, n_x), "y": draw(rng, n_y, factor)}
        after.append(pair_tables(new_fronts(blocks, boot, i))[1].iloc[0])
        if old:
            before.append(old["iso"].pair_tables(old_fronts(old, blocks, boot, i))[1].iloc[0])
    return pd.DataFrame(before), pd.DataFrame(after)


def covers(rows, low, high, truth) -> float:
    return float(np.mean((rows[low] <= truth) & (rows[high] >= truth))) if len(rows) else float("nan")


def finding_1(old, trials, boot):
    """Identical blocks, equal and unequal n: coverage of the true ratio 1 and bias of the log speedup."""
    out = []
    for n_x, n_y in ((30, 30), (60, 12), (60, 20)):
        b, a = pair_rows(old, n_x, n_y, 1.0, trials, boot)
        out.append(
            {
                "case": f"F1 identical {n_x} vs {n_y}",
                "before_coverage": covers(b, "ci_low", "ci_high", 1.0),
                "after_coverage": covers(a, "geo_ci_low", "geo_ci_high", 1.0),
                "after_mid_coverage": covers(a, "ci_low", "ci_high", 1.0),
                "before_mean_speedup": float(np.exp(np.log(b["speedup"]).mean())) if len(b) else np.nan,
                "after_mean_speedup": float(np.exp(np.log(a["geomean_speedup"]).mean())),
                "after_not_estimable": float(a["geo_ci_low"].isna().mean()),
            }
        )
    return out


def finding_2(old, trials, boot):
    """A block 5% slower at every accuracy: the cost of dropping it (true 0.952) and how often it is dropped."""
    from hwbench.analysis.recommend import recommend

    out = []
    for n in (30, 100):
        costs, drops, old_regrets, old_drops = [], [], [], []
        for i in range(trials // 2 if n == 100 else trials):
            rng = np.random.default_rng(20_000 + n + i)
            blocks = {"x": draw(rng, n), "y": draw(rng, n, 1.05)}
            rec = recommend(new_fronts(blocks, boot, i), pd.DataFrame(), ["x", "y"]).set_index("group")
            costs.append(cover_cost(blocks, boot, i))
            drops.append(rec.loc["y", "verdict"] == "drop")
            if old:
                o = old["recommend"].recommend(old_fronts(old, blocks, boot, i), pd.DataFrame(), ["x", "y"])
                o = o.set_index("group")
                old_regrets.append(o.loc["y", "regret"])
                old_drops.append(o.loc["y", "verdict"] == "drop")
        out.append(
            {
                "case": f"F2 y 5% slower, {n} vs {n}",
                "before_median_regret": float(np.median(old_regrets)) if old_regrets else np.nan,
                "before_drop_rate": float(np.mean(old_drops)) if old_drops else np.nan,
                "after_median_cost": float(np.median(np.array(costs)[np.isfinite(costs)])),
                "after_y_above_x": float(np.mean(np.isinf(costs))),  # y's range tops x's: kept, not compared
                "after_drop_rate": float(np.mean(drops)),
            }
        )
    return out


def cover_cost(blocks, boot, seed) -> float:
    from hwbench.analysis.recommend import Cover

    return Cover(new_fronts(blocks, 0, seed), 0.02, None).cost("y", ["x"])


def finding_3_4(old, trials, boot):
    """Replicates behind each interval (identical 60 vs 12), and the 'largest speedup' interval (30 vs 30)."""
    b, _ = pair_rows(old, 30, 30, 1.0, trials, boot)
    _, a12 = pair_rows(old, 60, 12, 1.0, trials, boot)
    return [
        {
            "case": "F3 60 vs 12: share of headline intervals on < 90% of replicates",
            "before": float(np.mean(old_coverage(old, trials, boot) < 0.9)) if old else np.nan,
            "after": float(np.mean(a12["coverage"] < 0.9)),
            "after_note": "below 90%: 'not estimable', no interval",
        },
        {
            "case": "F4 largest-speedup interval excludes 1 (identical)",
            "before": float(np.mean((b["max_ci_low"] > 1) | (b["max_y_ci_low"] > 1))) if len(b) else np.nan,
            "after": 0.0,
            "after_note": "descriptive, no interval (a sup-t band excluded 1 in 16%)",
        },
    ]


def old_coverage(old, trials, boot) -> np.ndarray:
    """The old curves' replicate coverage at each pair's mid-range level."""
    values = []
    for i in range(trials):
        rng = np.random.default_rng(10_000 + 97 * 60 + 12 + i)
        tf = old_fronts(old, {"x": draw(rng, 60), "y": draw(rng, 12)}, boot, i)
        curves, summary = old["iso"].pair_tables(tf)
        ref = summary.iloc[0]["ref_level"]
        values.append(float(curves.loc[curves["level"] == ref, "coverage"].iloc[0]))
    return np.array(values)


def changed(one: pd.Series, two: pd.Series, columns: list[str]) -> bool:
    """Whether any of the columns differs between two rows (NaN equal to NaN)."""
    a, b = one[columns].to_numpy(dtype=float), two[columns].to_numpy(dtype=float)
    return not np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)


def finding_5(old, trials, boot):
    """Adding a slow, wider block z: does any figure of the x–y row change (speedup, interval, largest)?"""
    from hwbench.analysis.iso import pair_tables

    changed_old, changed_new = [], []
    for i in range(min(trials, 50)):
        rng = np.random.default_rng(30_000 + i)
        xy = {"x": draw(rng, 30), "y": draw(rng, 30, 1.1)}
        z = {"z": draw(rng, 30, 3.0, low=0.5, high=0.9)}
        a1 = pair_tables(new_fronts(xy, boot, i))[1].iloc[0]
        a2 = pair_tables(new_fronts({**xy, **z}, boot, i))[1].iloc[0]
        changed_new.append(changed(a1, a2, ["geomean_speedup", "geo_ci_low", "geo_ci_high", "speedup", "max_speedup"]))
        if old:
            b1 = old["iso"].pair_tables(old_fronts(old, xy, boot, i))[1].iloc[0]
            b2 = old["iso"].pair_tables(old_fronts(old, {**xy, **z}, boot, i))[1].iloc[0]
            changed_old.append(changed(b1, b2, ["speedup", "ci_low", "ci_high", "max_speedup", "geomean_speedup"]))
    return [
        {
            "case": "F5 a figure of the x–y pair changes when z is added",
            "before": float(np.mean(changed_old)) if changed_old else np.nan,
            "after": float(np.mean(changed_new)),
            "after_note": "exact levels of a fixed grid; streams per block",
        }
    ]


def finding_8(old, boot):
    """Verdicts across bootstrap seeds 0–5 on fixed datasets, at the report's 1000 replicates: share of datasets
    whose verdicts differ by seed."""
    from hwbench.analysis.recommend import recommend

    out = []
    for n in (4, 12, 40):
        flips_new, flips_old = [], []
        for d in range(10):
            rng = np.random.default_rng(40_000 + 10 * n + d)
            blocks = {"x": draw(rng, n), "y": draw(rng, n, 1.1), "z": draw(rng, n, 1.3)}
            new = {
                tuple(recommend(new_fronts(blocks, boot, s), pd.DataFrame(), list(blocks))["verdict"]) for s in range(6)
            }
            flips_new.append(len(new) > 1)
            if old:
                got = {verdicts(old["recommend"].recommend, old_fronts(old, blocks, boot, s), blocks) for s in range(6)}
                flips_old.append(len(got) > 1)
        out.append(
            {
                "case": f"F8 verdicts differ across seeds 0–5, {n} networks/block",
                "before": float(np.mean(flips_old)) if flips_old else np.nan,
                "after": float(np.mean(flips_new)),
                "after_note": "no verdict below 10 networks" if n < 10 else "",
            }
        )
    return out


def verdicts(recommend, tf, blocks) -> tuple:
    """The verdict of every block, in order."""
    return tuple(recommend(tf, pd.DataFrame(), list(blocks))["verdict"])


def finding_9(old, trials, boot):
    """Five identical blocks (10 pairs): share of datasets with at least one false 'faster' sentence."""
    from hwbench.analysis.iso import pair_tables

    any_new, any_old = [], []
    for i in range(min(trials, 100)):
        rng = np.random.default_rng(50_000 + i)
        blocks = {b: draw(rng, 30) for b in "abcde"}
        s = pair_tables(new_fronts(blocks, boot, i))[1]
        p = holm(s["p_value"].to_numpy(dtype=float))
        any_new.append(bool(np.any((p < 0.05) & ((s["geo_ci_low"] > 1) | (s["geo_ci_high"] < 1)))))
        if old:
            o = old["iso"].pair_tables(old_fronts(old, blocks, boot, i))[1]
            any_old.append(bool(np.any((o["ci_low"] > 1) | (o["ci_high"] < 1))))
    return [
        {
            "case": "F9 any false 'faster' among 10 identical pairs",
            "before": float(np.mean(any_old)) if any_old else np.nan,
            "after": float(np.mean(any_new)),
            "after_note": "Holm over the pairs",
        }
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--boot", type=int, default=200)
    args = parser.parse_args()
    old = old_modules()
    start = time.perf_counter()
    f1 = finding_1(old, args.trials, args.boot)
    f2 = finding_2(old, args.trials, args.boot)
    rest = finding_3_4(old, args.trials, args.boot) + finding_5(old, args.trials, args.boot)
    rest += finding_8(old, 1000 if args.boot >= 200 else args.boot) + finding_9(old, args.trials, args.boot)
    seconds = time.perf_counter() - start
    text = "\n\n".join(
        [
            table(f1, list(f1[0])),
            table(f2, list(f2[0])),
            table(rest, ["case", "before", "after", "after_note"]),
            f"trials {args.trials}, bootstrap replicates {args.boot}, nominal 95%; before = commit {OLD_COMMIT}"
            f"{'' if old else ' (not available: git show failed)'}; {seconds:.0f} s",
        ]
    )
    save("statistics_calibration", text, {"f1": f1, "f2": f2, "rest": rest, "args": vars(args), "seconds": seconds})


if __name__ == "__main__":
    main()
