"""The report's header: the accuracy basis (images, resolution, one image in points) and the disturbed banner."""

from pathlib import Path

from hwbench.analysis.analyse import Options, analyse_frame
from hwbench.report.header import report_header
from hwbench.report.html import render_report
from tests.analysis.frames import make_frame


def _frame(disturbed: bool):
    points = {
        (t, b): [(0.90 + 0.01 * i, (1 + i) * (1 + k)) for i in range(5)] for k, b in enumerate("ab") for t in "xy"
    }
    frame = make_frame(points).assign(eval_images=359, eval_resolution=32, disturbed=0)
    if disturbed:
        frame.loc[frame.index[:3], "disturbed"] = 1
    return frame


def test_header_states_the_accuracy_basis_and_the_disturbed_results(tmp_path: Path) -> None:
    analysis = analyse_frame(_frame(True), options=Options(n_boot=20))
    head = report_header(analysis)
    assert head["accuracy_basis"] == [
        "Accuracy of 10 network(s) on d (s schedule) at 32×32 px, 359 evaluation images: one image is 0.28 accuracy "
        "points, so smaller accuracy differences are not resolved."
    ]
    assert head["disturbed"].startswith("3 of 20 measured results were disturbed")
    overview = analysis.tables["overview"].set_index(["target", "group"])["disturbed"]
    assert overview.sum() == 3 and overview[("x", "a")] == 3  # counted per block in "Networks per block"
    html = render_report(analysis, tmp_path / "out").read_text()
    assert html.index('id="disturbed"') < html.index('id="summary"')  # the banner is at the top
    assert "359 evaluation images" in html
    results = (tmp_path / "out" / "results.csv").read_text().splitlines()[0]
    assert "top1_ci_low" in results and "top1_ci_high" in results


def test_no_banner_when_nothing_is_disturbed(tmp_path: Path) -> None:
    analysis = analyse_frame(_frame(False), options=Options(n_boot=20))
    assert report_header(analysis)["disturbed"] == ""
    assert 'id="disturbed"' not in render_report(analysis, tmp_path / "out").read_text()
