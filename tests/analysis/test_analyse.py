"""The whole analysis on hand-made tables: accuracy or its proxy, failures, tiny sweeps, combined sweeps."""

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.analyse import Options, analyse_frame, make_options
from hwbench.errors import HwbenchError
from tests.analysis.frames import make_frame

Q = np.round(np.linspace(0.6, 0.79, 20), 4)
X = list(zip(Q, np.exp(8 * (Q - 0.6))))
Y = list(zip(Q, 1.5 * np.exp(8 * (Q - 0.6))))
FAST = Options(n_boot=50)


def test_with_accuracy_every_table_is_filled() -> None:
    a = analyse_frame(make_frame({("t", "x"): X, ("t", "y"): Y}), options=FAST)
    assert a.has_accuracy and a.targets == ["t"]
    for name in (
        "fronts",
        "shares",
        "speedups",
        "speedup_curves",
        "slowdown",
        "gaps",
        "edf",
        "edf_summary",
        "correlation",
        "ranks",
        "noise_summary",
        "dominance",
        "recommendations",
        "provenance",
        "overview",
    ):
        assert not a.tables[name].empty, name
    row = a.tables["speedups"].iloc[0]
    assert row["speedup"] == pytest.approx(1.5) and row["geomean_speedup"] == pytest.approx(1.5)
    assert row["faster"] == "x" and row["p_holm"] == row["p_value"]  # one pair: Holm changes nothing
    assert row["sentence"].startswith("x is 1.50× (")
    fronts = a.tables["fronts"]
    assert set(fronts["cost"]) == {"median_ms", "macs", "params"} and set(fronts["quality"]) == {"top1"}


def test_without_accuracy_uses_the_complexity_proxy_and_says_so() -> None:
    macs = np.geomspace(1e8, 4e8, 20)
    frame = make_frame({("t", "x"): list(zip(macs, macs / 1e8)), ("t", "y"): list(zip(macs, macs / 5e7))}, macs=True)
    a = analyse_frame(frame, options=FAST)
    assert not a.has_accuracy and a.quality.column == "macs"
    assert any("no accuracy" in n for n in a.notes)
    assert a.tables["gaps"].empty and a.tables["edf"].empty
    assert a.tables["speedups"].iloc[0]["speedup"] == pytest.approx(2.0)
    rec = a.tables["recommendations"].set_index("group")
    assert (
        rec.loc["y", "verdict"] in ("drop", "keep (uncertain)")
        and "no accuracy in the store" in rec.loc["y", "evidence"]
    )


def test_all_failed_gives_no_fronts_and_no_data_verdicts() -> None:
    frame = make_frame({("t", "x"): X}).assign(status="export_error", median_ms=np.nan)
    a = analyse_frame(frame, options=FAST)
    assert a.fronts == {} and a.tables["speedups"].empty
    assert a.tables["recommendations"]["verdict"].tolist() == ["no data"]


def test_single_network_per_block() -> None:
    a = analyse_frame(make_frame({("t", "x"): [(0.7, 1.0)], ("t", "y"): [(0.7, 3.0)]}), options=FAST)
    row = a.tables["speedups"].iloc[0]
    assert row["n_levels"] == 0 and "not compared" in row["sentence"]
    assert set(a.tables["recommendations"]["verdict"]) == {"no verdict"}
    assert any("fewer than 10 networks" in n for n in a.notes)


def test_holm_over_every_pair_of_the_report() -> None:
    points = {("t", b): list(zip(Q, f * np.exp(8 * (Q - 0.6)))) for b, f in (("a", 1.0), ("b", 1.02), ("c", 3.0))}
    a = analyse_frame(make_frame(points), options=FAST)
    s = a.tables["speedups"]
    assert (s["p_holm"] >= s["p_value"]).all() and s["p_holm"].max() <= 1
    assert s.set_index(["block_x", "block_y"]).loc[("a", "c"), "faster"] == "a"


def test_combined_sweeps_count_each_network_once() -> None:
    one = make_frame({("t", "x"): X, ("t", "y"): Y})
    same = one.assign(sweep="s2")  # the same measurements linked from a second sweep
    a = analyse_frame(pd.concat([one, same], ignore_index=True), options=FAST)
    assert a.tables["shares"]["networks"].tolist() == [20, 20] and not a.notes
    remeasured = one.assign(sweep="s3", measure_key=one["measure_key"] + "-again", measured_at="2026-02-01")
    a = analyse_frame(pd.concat([one, remeasured], ignore_index=True), options=FAST)
    assert a.tables["shares"]["networks"].tolist() == [20, 20]
    assert any("newest measurement" in n for n in a.notes)


def test_options_are_checked() -> None:
    with pytest.raises(HwbenchError, match="unknown analysis option 'n_bot' \\(did you mean 'n_boot'\\?\\)"):
        make_options(n_bot=10)
    with pytest.raises(HwbenchError, match="confidence"):
        Options(confidence=1.5)
    with pytest.raises(HwbenchError, match="no column 'nope'"):
        analyse_frame(make_frame({("t", "x"): X}), options=Options(group="nope"))
