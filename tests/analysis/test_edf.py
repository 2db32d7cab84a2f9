"""Error EDFs and complexity-normalised EDFs on hand-checked networks."""

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.edf import bin_index, bin_weights, common_bins, complexity_edges, edf_at, edf_tables


def test_edf_counts_errors_strictly_below() -> None:
    errors = np.array([0.1, 0.2, 0.2, 0.4])
    assert edf_at(errors, [0.1, 0.2, 0.3, 0.4, 0.5]).tolist() == [0.0, 0.25, 0.75, 0.75, 1.0]


def test_normalised_weights_by_hand() -> None:
    # log10 complexity 0 ×3, 1 ×4 in 2 bins: weight 1/(K·m_j) in the common bins, K = 2
    edges = complexity_edges(np.array([1, 1, 1, 10]), 2)
    bins = bin_index(np.array([1.0, 1.0, 1.0, 10.0, 10.0, 10.0, 10.0]), edges)
    assert bins.tolist() == [0, 0, 0, 1, 1, 1, 1]
    weights = bin_weights(bins, np.array([0, 1]))
    assert weights.tolist() == pytest.approx([1 / 6] * 3 + [1 / 8] * 4)
    assert bin_weights(bins, np.array([1])).tolist() == pytest.approx([0.0] * 3 + [1 / 4] * 4)
    errors = np.array([0.1, 0.2, 0.3, 0.4, 0.4, 0.4, 0.4])
    assert edf_at(errors, [0.35], weights)[0] == pytest.approx(0.5)  # plain EDF: 3/7
    # a bin counts only when every block fills it with at least 3 networks
    assert common_bins([np.array([0, 0, 0, 1, 1, 1]), np.array([0, 0, 0, 1, 1])], 2).tolist() == [0]


def test_edf_tables_per_block_with_n_min_mean() -> None:
    frame = pd.DataFrame(
        {
            "group": ["a"] * 7 + ["b"] * 6,
            "arch_id": [f"a{i}" for i in range(7)] + [f"b{i}" for i in range(6)],
            "top1": [0.9, 0.8, 0.7, 0.6, 0.6, 0.6, 0.6, 0.75, 0.65, 0.85, 0.7, 0.7, 0.7],
            "macs": [1, 1, 1, 10, 10, 10, 10, 1, 1, 1, 10, 10, 10],
            "params": list(range(1, 14)),
        }
    )
    # the same network on a second target counts once
    frame = pd.concat([frame, frame.iloc[:1]], ignore_index=True)
    curves, summary = edf_tables(frame, complexities=("macs",), k=2)
    s = summary.set_index(["group", "kind"])
    assert s.loc[("a", "plain"), "n"] == 7 and s.loc[("a", "plain"), "min_error"] == pytest.approx(0.1)
    assert s.loc[("a", "plain"), "mean_error"] == pytest.approx(2.2 / 7)
    # normalised mean: ½·mean(0.1, 0.2, 0.3) + ½·0.4
    assert s.loc[("a", "macs-normalised"), "mean_error"] == pytest.approx(0.3)
    assert s.loc[("b", "macs-normalised"), "bins"] == 2 and s.loc[("b", "macs-normalised"), "n_used"] == 6
    assert (
        s.loc[("a", "plain"), "mean_ci_low"]
        < s.loc[("a", "plain"), "mean_error"]
        < s.loc[("a", "plain"), "mean_ci_high"]
    )
    assert s.loc[("a", "plain"), "band"] == pytest.approx(np.sqrt(np.log(40) / 14))  # DKW at n = 7
    a = curves[(curves["group"] == "a") & (curves["kind"] == "plain")]
    assert a["edf_upto"].tolist() == pytest.approx([1 / 7, 2 / 7, 3 / 7, 1.0])
    assert a["edf_below"].tolist() == pytest.approx([0.0, 1 / 7, 2 / 7, 3 / 7])


def test_no_common_bin_gives_no_normalised_edf() -> None:
    frame = pd.DataFrame(
        {
            "group": ["a"] * 3 + ["b"] * 3,
            "arch_id": list("abcdef"),
            "top1": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
            "macs": [1, 1, 1, 10, 10, 10],
            "params": [1] * 6,
        }
    )
    _, summary = edf_tables(frame, complexities=("macs",), k=2)
    assert set(summary["kind"]) == {"plain"}


def test_no_accuracy_gives_empty_tables() -> None:
    frame = pd.DataFrame({"group": ["a"], "arch_id": ["a0"], "top1": [np.nan], "macs": [1], "params": [1]})
    curves, summary = edf_tables(frame)
    assert curves.empty and summary.empty
