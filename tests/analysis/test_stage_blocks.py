"""Which block each stage prefers in a hybrid space: hand-made fronts with known counts."""

import json

import pandas as pd
import pytest

from hwbench.analysis.analyse import Options, analyse_frame
from hwbench.analysis.stage_blocks import preference_sentences, stage_blocks, stage_preference
from tests.analysis.frames import make_frame


def test_stage_blocks_of_a_hybrid_spec_and_of_a_plain_one() -> None:
    hybrid = {"block": "hybrid", "stages": [{"params": {"block": "mbconv"}}, {"params": {"block": "fused_mbconv"}}]}
    assert stage_blocks(json.dumps(hybrid)) == "mbconv|fused_mbconv"
    assert stage_blocks(json.dumps({"block": "mbconv", "stages": [{"params": {}}]})) == ""


def hybrid_frame() -> pd.DataFrame:
    """Six hybrid networks on one target; the front (each faster and more accurate than the last) is networks
    0, 2 and 4, which all use fused_mbconv in stage 1 and, in stage 2, mbconv twice and mbconv_se once."""
    points = [(0.60, 1.0), (0.55, 2.0), (0.70, 2.5), (0.65, 3.0), (0.80, 4.0), (0.62, 5.0)]
    stages = [
        "fused_mbconv|mbconv",
        "mbconv|mbconv",
        "fused_mbconv|mbconv",
        "mbconv|mbconv_se",
        "fused_mbconv|mbconv_se",
        "mbconv_se|mbconv",
    ]
    frame = make_frame({("t", "hybrid"): points})
    return frame.assign(stage_blocks=stages)


def test_shares_on_a_hand_made_front() -> None:
    frame = hybrid_frame().assign(group="hybrid")
    table = stage_preference(frame, "top1").set_index(["stage", "block"])
    assert (table["front_size"] == 3).all() and (table["networks"] == 6).all()
    assert table.loc[(1, "fused_mbconv"), "front_with_block"] == 3
    assert table.loc[(1, "fused_mbconv"), "front_share"] == pytest.approx(1.0)
    assert table.loc[(1, "fused_mbconv"), "base_share"] == pytest.approx(0.5)
    assert table.loc[(1, "mbconv"), "front_with_block"] == 0 and table.loc[(1, "mbconv"), "with_block"] == 2
    assert table.loc[(2, "mbconv"), "front_with_block"] == 2 and table.loc[(2, "mbconv_se"), "front_with_block"] == 1
    assert table.loc[(2, "mbconv"), "base_share"] == pytest.approx(4 / 6)
    (sentence,) = preference_sentences(stage_preference(frame, "top1"))
    assert "stage 1: fused_mbconv (3 of 3; 50% of all 6)" in sentence
    assert "stage 2: mbconv (2 of 3; 67% of all 6)" in sentence


def test_a_tie_names_no_block_and_plain_blocks_are_left_out() -> None:
    frame = hybrid_frame().iloc[[0, 3]].assign(group="hybrid")  # both on the front, stage 2 differs
    plain = make_frame({("t", "mbconv"): [(0.9, 0.5)]}).assign(stage_blocks="", group="mbconv")
    table = stage_preference(pd.concat([frame, plain], ignore_index=True), "top1")
    assert set(table["group"]) == {"hybrid"}
    (sentence,) = preference_sentences(table)
    assert "stage 1: no single block (tied at 1 of 2)" in sentence


def test_analysis_carries_the_table() -> None:
    a = analyse_frame(hybrid_frame(), options=Options(n_boot=0))
    assert len(a.tables["stage_blocks"]) == 5  # stage 1: 3 blocks, stage 2: 2
    assert analyse_frame(make_frame({("t", "x"): [(0.6, 1.0)]}), options=Options(n_boot=0)).tables["stage_blocks"].empty
