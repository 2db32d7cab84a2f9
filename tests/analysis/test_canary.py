"""Latencies and the machine's speed: canary ratio and warning of two sweeps, the derived canary-normalised
latency of the results table, and the note when combined results mix machine speeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.canary import add_canary_norm, mixed_speed_notes, normalised_ratios
from hwbench.analysis.compare import pair_sweeps, summarise
from hwbench.analysis.data import usable
from hwbench.analysis.table import results_frame
from hwbench.store import Store
from tests.report.fill import add_result

KIND = "onnxruntime:9cc8a5f3822a"


def _frame(ms: list[float], canary: float | None, n: int = 160, sd: float = 0.03, kind: str = KIND) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "arch_id": [f"n{i}" for i in range(len(ms))],
            "target": "t",
            "space": "s",
            "status": "ok",
            "median_ms": ms,
            "ci_low_ms": [m * 0.99 for m in ms],
            "ci_high_ms": [m * 1.01 for m in ms],
            "artifact_hash": [f"h{i}" for i in range(len(ms))],
            "format": "onnx",
            "canary_kind": kind if canary else None,
            "canary_ms": canary,
            "canary_n": n if canary else None,
            "canary_rel_sd": sd if canary else None,
        }
    )


def test_normalised_ratios_divide_each_latency_by_its_own_canary() -> None:
    ratio = normalised_ratios([1.0, 2.0, 3.0], [0.5, 0.5, np.nan], [1.1, 2.2, 3.3], [0.55, 0.5, 0.5])
    assert ratio[0] == pytest.approx(1.0) and ratio[1] == pytest.approx(1.1) and np.isnan(ratio[2])


def test_a_slower_machine_is_warned_and_normalised_beside_the_raw_figures() -> None:
    ms = [1.0, 2.0, 3.0, 4.0, 5.0]
    a = _frame(ms, 0.60)
    b = _frame([m * 1.06 * (1 + d) for m, d in zip(ms, [0.01, -0.01, 0.02, 0.0, -0.02])], 0.636)
    [s] = summarise(pair_sweeps(a, b)).to_dict("records")
    assert s["median_ratio"] == pytest.approx(1.06, abs=1e-9)  # raw: the machine's shift
    assert s["canary_ratio"] == pytest.approx(1.06) and s["canary_differs"] == 5 and s["canary_pairs"] == 5
    assert s["median_ratio_canary_norm"] == pytest.approx(1.0)
    assert s["median_abs_delta_canary_norm"] == pytest.approx(0.01)
    # The same canary on both sides: no warning, and the normalised figures equal the raw ones.
    [same] = summarise(pair_sweeps(a, _frame(ms, 0.601))).to_dict("records")
    assert same["canary_differs"] == 0 and same["median_ratio_canary_norm"] == pytest.approx(0.6 / 0.601)


def test_no_ratio_without_canaries_or_across_canary_kinds() -> None:
    ms = [1.0, 2.0, 3.0]
    for b in (_frame(ms, None), _frame(ms, 0.6, kind="numpy")):
        [s] = summarise(pair_sweeps(_frame(ms, 0.6), b)).to_dict("records")
        assert s["canary_pairs"] == 0 and s["canary_differs"] == 0 and np.isnan(s["median_ratio_canary_norm"])
    old = _frame(ms, None).drop(columns=["canary_kind", "canary_ms", "canary_n", "canary_rel_sd"])
    [s] = summarise(pair_sweeps(old, old)).to_dict("records")  # a table without the columns still compares
    assert s["median_ratio"] == 1.0 and s["canary_pairs"] == 0


def test_results_table_has_the_canary_and_the_labelled_derived_latency(tmp_path: Path) -> None:
    store = Store(tmp_path / "hwbench.sqlite")
    for sweep, canary in (("one", 0.60), ("two", 0.66)):
        for i in range(3):
            row = {"block": "mbconv", "index": i, "target": "t", "ms": (i + 1) * canary, "arch": f"{sweep}-{i}"}
            add_result(store, sweep, {**row, "canary_kind": KIND, "canary_ms": canary, "canary_n": 160})
    add_result(store, "one", {"block": "mbconv", "index": 3, "target": "t", "ms": 9.0, "arch": "old"})
    frame = results_frame(store, ["one", "two"])
    assert {"canary_kind", "canary_ms", "canary_n", "canary_rel_sd", "canary_ref_ms", "median_ms_canary_norm"} <= set(
        frame.columns
    )
    measured = frame[frame["canary_ms"].notna()]
    assert measured["canary_ref_ms"].to_numpy() == pytest.approx(0.63)  # the median block canary of the target
    by_arch = measured.set_index("arch_id")["median_ms_canary_norm"]
    assert by_arch["one-1"] == pytest.approx(by_arch["two-1"]) == pytest.approx(2 * 0.63)
    old = frame[frame["arch_id"] == "old"].iloc[0]
    assert np.isnan(old["canary_ms"]) and np.isnan(old["median_ms_canary_norm"]) and old["median_ms"] == 9.0
    # One sweep, one block: the derived latency is the measured one.
    one = results_frame(store, ["one"]).dropna(subset=["canary_ms"])
    assert one["median_ms_canary_norm"].to_numpy() == pytest.approx(one["median_ms"].to_numpy())
    # Combining them mixes machine speeds (10% apart, far beyond the noise): the notes say so.
    _, notes = usable(frame.assign(block="mbconv"))
    assert any("machine speeds" in n and "10.0% apart" in n and "median_ms_canary_norm" in n for n in notes)
    assert any("1 of 7 results on target t were measured before" in n for n in notes)


def test_blocks_within_their_noise_are_not_a_mix() -> None:
    a, b = _frame([1.0, 2.0], 0.600), _frame([3.0, 4.0], 0.602)
    b["arch_id"] = ["n2", "n3"]
    assert mixed_speed_notes(pd.concat([a, b])) == []
    few = _frame([3.0, 4.0], 0.63, n=4, sd=0.05)  # 5% apart, but a 4-timing block cannot tell that from noise
    few["arch_id"] = ["n2", "n3"]
    assert mixed_speed_notes(pd.concat([a, few])) == []
    assert mixed_speed_notes(pd.concat([a, few.assign(canary_n=160, canary_rel_sd=0.03)]))


def test_add_canary_norm_without_canary_columns() -> None:
    frame = add_canary_norm(pd.DataFrame({"target": ["t"], "status": ["ok"], "median_ms": [1.0]}))
    assert np.isnan(frame["median_ms_canary_norm"].iloc[0]) and np.isnan(frame["canary_ref_ms"].iloc[0])
