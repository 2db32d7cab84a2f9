"""The report with reference networks (labelled, in no block, compared with every front) and a hybrid space."""

from pathlib import Path

import pandas as pd

from hwbench.analysis.analyse import Options, analyse_frame
from hwbench.report.html import render_report
from tests.analysis.frames import make_frame

FAST = Options(n_boot=100)


def frame_with_references() -> pd.DataFrame:
    """Two blocks of 12 networks on one target; a reference inside their range twice as slow as the mbconv front,
    one beyond every network's accuracy; the hybrid networks' stages."""
    points = {
        ("t", "mbconv"): [(0.60 + 0.01 * i, 1.0 + 0.05 * i) for i in range(12)],
        ("t", "hybrid"): [(0.60 + 0.01 * i, 1.5 + 0.05 * i) for i in range(12)],
    }
    frame = make_frame(points)
    stages = ["fused_mbconv|mbconv" if i % 2 else "mbconv|mbconv_se" for i in range(12)]
    frame["stage_blocks"] = [""] * 12 + stages
    template = frame.iloc[0]
    refs = pd.DataFrame(
        [
            {**template, "space": "reference:mobilenet_v2", "arch_id": "ref-a", "top1": 0.61, "median_ms": 3.0},
            {**template, "space": "reference:resnet18", "arch_id": "ref-b", "top1": 0.95, "median_ms": 9.0},
        ]
    )
    return pd.concat([frame, refs.assign(stage_blocks="")], ignore_index=True)


def test_references_are_labelled_compared_and_in_no_block(tmp_path: Path) -> None:
    html = render_report(analyse_frame(frame_with_references(), options=FAST), tmp_path).read_text()
    assert "<h3>Reference networks</h3>" in html
    assert "The mbconv front is 2.61× (" in html  # 3.0 ms over the best of 3 of 11 networks ≥ 61%: 1.15 ms
    assert "faster than mobilenet_v2 at mobilenet_v2's 61.0% top-1 on t." in html
    assert "The hybrid front does not reach resnet18's 95.0% top-1 on t: 9 of its networks reach 63.0%" in html
    assert "black stars: reference networks" in html
    table = pd.read_csv(tmp_path / "references.csv")
    assert set(table["reference"]) == {"mobilenet_v2", "resnet18"} and len(table) == 4
    recommendations = pd.read_csv(tmp_path / "recommendations.csv")
    assert sorted(recommendations["group"]) == ["hybrid", "mbconv"]  # the references' blocks get no verdict row
    assert set(pd.read_csv(tmp_path / "results.csv")["reference"].fillna("")) == {"", "mobilenet_v2", "resnet18"}


def test_stage_preference_section(tmp_path: Path) -> None:
    html = render_report(analyse_frame(frame_with_references(), options=FAST), tmp_path).read_text()
    assert "<h3>Block per stage (hybrid spaces)</h3>" in html
    table = pd.read_csv(tmp_path / "stage_blocks.csv")
    assert set(table["stage"]) == {1, 2} and (table["networks"] == 12).all()
    plain = render_report(analyse_frame(make_frame({("t", "x"): [(0.6, 1.0)]}), options=FAST), tmp_path / "p")
    assert "Block per stage" not in plain.read_text() and "Reference networks" not in plain.read_text()
