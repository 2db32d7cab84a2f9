"""The report's detection section: what each latency is, a per-block table of the latency parts with the NMS share,
mAP fronts with and without NMS, NMS time against boxes per image; absent for classification sweeps."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwbench.analysis.analyse import Options
from hwbench.analysis.table import results_frame
from hwbench.report import write_report
from hwbench.report.detection import block_table, per_image
from hwbench.store import Store
from tests.analysis.test_detection_frame import ABOVE, KEPT, NMS_MS, fill_detection
from tests.report.fill import fill
from tests.report.test_report import images, sweep_rows

FAST = Options(n_boot=20)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Detection sweep 'det' (cpu: host NMS; npu: in-graph NMS, one failed, one untimed) and classification 'cls'."""
    store = Store(tmp_path_factory.mktemp("det_report") / "s.sqlite")
    fill_detection(store)
    fill(store, "cls", sweep_rows(targets=("cpu",), n=4, fail=False))
    return store


def _section(html: str, start: str, end: str) -> str:
    return html[html.index(start) : html.index(end, html.index(start))]


def test_nms_share_per_block_is_the_median_of_the_networks_shares(store: Store) -> None:
    frame = results_frame(store, ["det"]).assign(group=lambda f: f["block"])
    table = block_table(frame[frame["target"] == "cpu"]).set_index("group")
    # shares 0.5/2.0, 0.4/2.0, 0.2/2.0 per block → median 0.2; mAPs 0.20/0.25/0.30 (+0.01 for convnext)
    assert table.loc["mbconv", "nms_share_median"] == pytest.approx(0.2)
    assert table.loc["mbconv", "map_median"] == pytest.approx(0.25)
    assert table.loc["convnext", "map_median"] == pytest.approx(0.26)
    assert table.loc["mbconv", "det_nms_ms_median"] == pytest.approx(0.4)
    assert table.loc["mbconv", "boxes_above_median"] == pytest.approx(40)  # medians 50, 40, 12
    assert table.loc["convnext", "boxes_median"] == 1460 and table.loc["mbconv", "timed"] == 3
    npu = block_table(frame[frame["target"] == "npu"]).set_index("group")
    assert npu.loc["convnext", "timed"] == 2 and np.isnan(npu.loc["convnext", "nms_share_median"])


def test_per_image_rows_come_from_the_timing_records(store: Store) -> None:
    frame = results_frame(store, ["det"]).assign(group=lambda f: f["block"])
    rows = per_image(frame)
    assert len(rows) == 6 * 3 + 4 * 3  # cpu: 6 timed detectors × 3 images; npu: 4 timed (one failed, one untimed)
    one = rows[(rows["arch_id"] == "dmbconv-1") & (rows["target"] == "cpu")]
    assert one["nms_ms"].tolist() == NMS_MS[1] and one["above_threshold"].tolist() == ABOVE[1]
    assert one["kept"].tolist() == KEPT[1]
    npu = rows[rows["target"] == "npu"]
    assert npu["nms_ms"].isna().all() and npu["kept"].notna().all()  # in-graph NMS: not separable


@pytest.mark.slow  # 9 figures (PNG + SVG): 3–6 s on this 2-core machine, depending on load
def test_detection_report_has_the_section_figures_and_tables(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "out"
    html = write_report(store, ["det"], out, FAST).read_text()
    assert "Quality axis: <b>mAP@[.5:.95]</b>" in html
    header = " ".join(_section(html, "Quality axis", "</p>").split())
    assert "mAP@[.5:.95] of 6 detector(s) on digits-det (det_demo schedule) at 128×128 px, 200 evaluation" in header
    # convnext's records carry mAP intervals (± 3 points), mbconv's were stored before them (test_detection_frame)
    assert "3 of the 6 mAPs have a 95% bootstrap interval over their evaluation images (median width 6.0 points)" in (
        header
    )
    assert "the other 3 were stored without one and are treated as exact" in header
    det = _section(html, 'id="detection"', 'id="distribution"')
    assert "untrained weights on random inputs" in det and "trained weights, at batch 1 on real test images" in det
    cpu = _section(det, "<h3>cpu</h3>", "<h3>npu</h3>")
    assert "Latency in parts on 3 test images; NMS on the host (numpy)" in cpu
    assert "score ≥ 0.05, IoU 0.5, top-1000 before NMS, at most 100 kept" in cpu
    cells = re.findall(r"<tr><td>mbconv</td>(.*?)</tr>", cpu)[0]
    assert re.findall(r"<td>(.*?)</td>", cells) == [
        "3", "3", "25.0%", "–", "–", "2M", "2", "1.6", "0.4", "2", "20.0%", "1,360", "40", "6",
    ]  # fmt: skip
    convnext = re.findall(r"<td>(.*?)</td>", re.findall(r"<tr><td>convnext</td>(.*?)</tr>", cpu)[0])
    assert convnext[2:5] == ["26.0%", "6.0%", "19.0%"]  # median mAP, median CI width, median artifact mAP
    assert "median width of its 95% CI" in cpu and "faint bars: each mAP" in det
    npu = det[det.index("<h3>npu</h3>") :]
    assert "in the graph" in npu and "1 network(s) have no latency in parts here" in npu
    assert "1 detector(s) whose timing in parts failed" in npu and "NonMaxSuppression unsupported" in npu
    for stem in ("det_fronts_cpu", "det_nms_cpu", "det_fronts_npu", "det_nms_npu"):
        assert (out / f"{stem}.png").stat().st_size > 1000 and f'id="fig-{stem}"' in html, stem
    assert images(html) == 2 * 2 + 2 * 2 + 1  # fronts + speedups, detection fronts + NMS per target, across
    assert "there are none here" in html  # EDFs are of top-1 error
    results = pd.read_csv(out / "results.csv")
    assert "det_per_image" not in results and results["nms_share"].notna().sum() == 6
    assert len(pd.read_csv(out / "detection_images.csv")) == 30


def test_classification_report_has_no_detection_section(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "cls"
    html = write_report(store, ["cls"], out, FAST).read_text()
    assert 'id="detection"' not in html and "detection latency" not in html and "mAP" not in html
    assert images(html) == 2 + 1 + 1  # fronts + speedup on cpu, EDFs, across targets: as before
    assert not (out / "detection_images.csv").exists() and not list(out.glob("det_*.png"))
    assert "top1" in pd.read_csv(out / "results.csv")


def test_detectors_not_yet_timed_in_parts_say_so(tmp_path: Path) -> None:
    from hwbench.report.detection import detection_sections
    from tests.analysis.frames import make_frame

    frame = make_frame({("cpu", "a"): [(0.3, 1.0), (0.4, 2.0)]}).assign(group="a")
    frame["map"], frame["top1"] = frame["top1"], np.nan  # mAP only: no latency in parts stored yet
    (section,) = detection_sections(frame, tmp_path, {"a": (0.1, 0.2, 0.5, 1.0)})
    assert section["images"] == 0 and section["untimed"] == 2 and section["failed"] == []
    assert "<td>35.0%</td>" in section["table"]  # median mAP of 0.3 and 0.4
    assert (tmp_path / "det_nms_cpu.png").exists()  # an empty panel that says why


@pytest.mark.slow  # 4 figures
def test_a_reference_detector_is_its_own_row_and_in_no_block(store: Store, tmp_path: Path) -> None:
    from hwbench.report.detection import detection_sections
    from hwbench.report.plots import block_colors

    frame = results_frame(store, ["det"]).assign(group=lambda f: f["block"], reference="")
    frame.loc[frame["arch_id"] == "dmbconv-1", "reference"] = "ssdlite_mobilenet_v2"
    sampled = frame[frame["reference"] == ""]
    sections = detection_sections(frame, tmp_path, block_colors(sorted(sampled["group"].unique())))
    cpu = next(s for s in sections if s["target"] == "cpu")
    cells = re.findall(r"<tr><td>(.*?)</td><td>(\d+)</td>", cpu["table"])
    rows = dict(cells)
    # mbconv had 3 detectors on cpu; one of them is now the reference: 2 left in the block, 1 in its own row
    assert rows["mbconv"] == "2" and rows["reference: ssdlite_mobilenet_v2"] == "1"
    assert block_table(sampled[sampled["target"] == "cpu"]).set_index("group").loc["mbconv", "networks"] == 2
