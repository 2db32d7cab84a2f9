"""The modelled analyses on hand-made records: iso-quality ratios on both costs, Kendall τ against measured targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.modelled import SUFFIX, analyse_modelled

N = 30
TOP1 = np.linspace(0.5, 0.8, N)
FACTOR = {"a": 1.0, "b": 2.0, "c": 4.0}  # block b is 2x, c 4x the latency of a at every accuracy


def modelled() -> pd.DataFrame:
    rows = []
    for block, f in FACTOR.items():
        for i, q in enumerate(TOP1):
            latency = f * (1 + 10 * q)
            rows.append({"arch_id": f"{block}{i}", "block": block, "target": "m", "status": "ok", "top1": q,
                         "latency_ms": latency, "energy_uj": 3 * latency if block == "a" else 9 * latency,
                         "macs": 1e6, "mac_coverage": 1.0})  # fmt: skip
    return pd.DataFrame(rows)


def measured(order: dict[str, float], target: str) -> pd.DataFrame:
    frame = modelled().assign(target=target, measure_key=lambda d: d["arch_id"] + target, measured_at="t")
    return frame.assign(median_ms=[order[b] * (1 + 10 * q) for b, q in zip(frame["block"], frame["top1"])])


def test_iso_quality_ratios_on_modelled_latency_and_energy() -> None:
    a = analyse_modelled(modelled(), None, n_boot=50)
    speed = a.tables["modelled_speedups"].set_index(["cost", "block_x", "block_y"])
    assert speed.loc[("latency_ms", "a", "b"), "geomean_speedup"] == pytest.approx(2.0)
    assert speed.loc[("latency_ms", "a", "c"), "geomean_speedup"] == pytest.approx(4.0)
    # energy: a is 3x its latency, b 9x: at equal accuracy b needs 2 × 3 = 6x a's energy
    assert speed.loc[("energy_uj", "a", "b"), "geomean_speedup"] == pytest.approx(6.0)
    assert set(a.tables["modelled_fronts"]["cost"]) == {"latency_ms", "energy_uj"}


def test_kendall_tau_against_each_measured_target() -> None:
    same = measured({"a": 1.0, "b": 1.5, "c": 3.0}, "cpu-same")
    reverse = measured({"a": 3.0, "b": 1.5, "c": 1.0}, "cpu-reverse")
    a = analyse_modelled(modelled(), pd.concat([same, reverse], ignore_index=True), n_boot=50)
    tau = a.tables["modelled_rank_agreement"]
    by_pair = {frozenset((r.target_a, r.target_b)): r.kendall_tau for r in tau.itertuples()}
    assert by_pair == {frozenset(("m" + SUFFIX, "cpu-same")): 1.0, frozenset(("m" + SUFFIX, "cpu-reverse")): -1.0}
