"""The report is written from the store alone: HTML with embedded figures, PNG/SVG files, CSV tables."""

import re
from pathlib import Path

import numpy as np
import pytest

import hwbench as hb
from hwbench.analysis.analyse import Options
from hwbench.errors import HwbenchError
from hwbench.report import write_report
from hwbench.store import Store
from tests.conftest import run_cli
from tests.report.fill import fill

FAST = Options(n_boot=100)


def sweep_rows(blocks=("mbconv", "convnext", "fused"), targets=("cpu", "npu"), n=12, accuracy=True, fail=True):
    """Blocks with different speed per target, accuracy rising with MACs, raw samples, one failed export."""
    rng = np.random.default_rng(0)
    rows = []
    for b, block in enumerate(blocks):
        for i in range(n):
            macs = 10**8 * (i + 1)
            for t, target in enumerate(targets):
                ms = (i + 1) * (1 + 0.5 * b) * (1 + t * (len(blocks) - 2 * b) * 0.3)
                failed = fail and block == blocks[-1] and i == 0 and t == 0
                rows.append(
                    {
                        "block": block,
                        "index": i,
                        "target": target,
                        "macs": macs,
                        "params": 10**6 * (i + 1),
                        "ms": None if failed else ms,
                        "top1": 0.5 + 0.03 * i + 0.01 * b if accuracy else None,
                        "samples": ms * rng.lognormal(0, 0.02, 64),
                        "cov": 0.2 if (b, i) == (0, 3) else 0.02,
                    }
                )
    return rows


def images(html: str) -> int:
    return len(re.findall(r'<img [^>]*src="data:image/png;base64,', html))


def test_full_report_with_accuracy(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    fill(store, "s", sweep_rows())
    html = write_report(store, ["s"], tmp_path / "out", FAST).read_text()
    assert images(html) == 2 * 2 + 2  # fronts + speedups per target, EDFs, across targets
    assert "Target cpu" in html and "Target npu" in html and "Boom: unsupported op" in html
    faster = r"is \d\.\d\d× \(\d\.\d\d–\d\.\d\d\) faster than \w+ on average over \d+\.\d–\d+\.\d% top-1 on cpu"
    assert re.search(faster, html) and "Holm-adjusted p" in html and "bootstrap support" in html
    assert "Accuracy gap at equal latency" in html and "Distribution view" in html and "n=12, min" not in html
    assert "Kendall τ" in html and "box" in html and "onnxruntime 1" in html
    assert "1 noisy result(s)" in html and 'src="http' not in html
    out = tmp_path / "out"
    for name in ("fronts_cpu", "speedup_npu", "edf", "across_targets"):
        assert (out / f"{name}.png").stat().st_size > 1000 and (out / f"{name}.svg").stat().st_size > 1000
    for name in (
        "results",
        "speedups",
        "speedup_curves",
        "gaps",
        "edf",
        "edf_summary",
        "fronts",
        "shares",
        "recommendations",
        "dominance",
        "rank_stability",
        "correlation",
        "noisy",
        "provenance",
    ):
        assert (out / f"{name}.csv").stat().st_size > 0, name


def test_without_accuracy_cost_views_still_render(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    fill(store, "s", sweep_rows(accuracy=False))
    html = write_report(store, ["s"], tmp_path / "out", FAST).read_text()
    assert "The store has no accuracy for these sweeps" in html
    assert "no accuracy in the store" in html  # the recommendation says it used the proxy
    assert "Distribution view" in html and "there are no error EDFs" in html
    assert images(html) == 2 * 2 + 1 and not (tmp_path / "out" / "edf.png").exists()
    assert "Does FLOPs predict latency?" in html


def test_all_failed_single_block_and_single_network(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    rows = sweep_rows(blocks=("mbconv",), targets=("cpu",), n=2)
    fill(store, "failed", [{**r, "ms": None} for r in rows])
    html = write_report(store, ["failed"], tmp_path / "a", FAST).read_text()
    assert "no data" in html and "2 failed network(s)" in html and images(html) == 2
    fill(store, "one", sweep_rows(blocks=("mbconv",), targets=("cpu",), n=3))
    html = write_report(store, ["one"], tmp_path / "b", FAST).read_text()
    assert "Only one block has results here" in html and images(html) == 4
    fill(store, "tiny", sweep_rows(targets=("cpu",), n=1, fail=False))
    html = write_report(store, ["tiny"], tmp_path / "c", FAST).read_text()
    assert "not compared, convnext has 1 network(s) and fused has 1 network(s)" in html and images(html) == 4
    assert "no verdict" in html  # one network per block


def test_combined_sweeps_with_different_provenance_warn(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    fill(store, "a", sweep_rows(targets=("cpu",)))
    other = {"machine": {"hostname": "board", "cpu_model": "arm"}, "versions": {"onnxruntime": "2"}}
    rows = [
        {**r, "arch": f"{r['block']}-b{r['index']}", "index": r["index"] + 100} for r in sweep_rows(targets=("cpu",))
    ]
    fill(store, "b", rows, prov=other)
    html = write_report(store, ["a", "b"], tmp_path / "out", FAST).read_text()
    assert "Warning: target cpu: results (sweeps a, b) come from different machines: board | box" in html
    assert "onnxruntime 1 | onnxruntime 2" in html


def test_unknown_and_empty_sweeps(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    with pytest.raises(HwbenchError, match="unknown sweep 'x'"):
        write_report(store, ["x"], tmp_path / "out")
    store.ensure_sweep("empty", 0, {})
    with pytest.raises(HwbenchError, match="has no results yet"):
        write_report(store, ["empty"], tmp_path / "out")
    assert not (tmp_path / "out" / "report.html").exists()


def test_cli_and_python_api(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    fill(store, "s", sweep_rows(targets=("cpu",)))
    store.close()
    done = run_cli(
        "report",
        "s",
        "--store",
        str(tmp_path / "s.sqlite"),
        "-o",
        str(tmp_path / "r"),
        "--bootstrap",
        "50",
        "--cov-threshold",
        "0.5",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r" / "report.html").exists() and "0 noisy" not in done.stdout
    bad = run_cli("report", "sx", "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)
    assert bad.returncode == 2 and "unknown sweep 'sx' (did you mean 's'?)" in bad.stderr
    bad = run_cli("report", "s", "--store", str(tmp_path / "s.sqlite"), "--group", "colour", cwd=tmp_path)
    assert bad.returncode == 2 and "--group" in bad.stderr
    frames = hb.report_frames("s", store=tmp_path / "s.sqlite", n_boot=50)
    assert {"speedups", "recommendations", "edf", "fronts"} <= set(frames)
    assert frames["speedups"]["ci_low"].notna().any()
    path = hb.make_report("s", output=tmp_path / "api", store=tmp_path / "s.sqlite", n_boot=0)
    assert path.exists() and "Bootstrap: 0 replicates" in path.read_text()


def test_conversion_section_when_the_store_has_conversion_facts(tmp_path: Path) -> None:
    from hwbench.analysis.analyse import analyse_frame
    from hwbench.report.html import render_report
    from tests.analysis.frames import make_frame

    frame = make_frame({("tflite-int8", "x"): [(0.6, 1.0), (0.7, 2.0)], ("tflite-int8", "y"): [(0.6, 2.0), (0.7, 3.0)]})
    plain = render_report(analyse_frame(frame, options=FAST), tmp_path / "plain").read_text()
    assert "<h3>Conversion</h3>" not in plain
    frame = frame.assign(
        fully_integer=[True, False, True, True], fallback_ops=[0, 3, 0, 0], artifact_top1=[0.59, 0.69, 0.6, 0.7]
    )
    html = render_report(analyse_frame(frame, options=FAST), tmp_path / "conv").read_text()
    assert "<h3>Conversion</h3>" in html and "fully integer share" in html and "50.0%" in html
    assert (tmp_path / "conv" / "conversion.csv").exists()


def test_token_section_lists_reduced_vits_and_flags_those_slower_than_dense(tmp_path: Path) -> None:
    from hwbench.analysis.analyse import analyse_frame
    from hwbench.report.html import render_report
    from tests.analysis.frames import make_frame

    frame = make_frame({("cpu", "x"): [(0.6, 1.0), (0.7, 2.0)], ("cpu", "y"): [(0.6, 2.0), (0.7, 3.0)]})
    plain = render_report(analyse_frame(frame, options=FAST), tmp_path / "plain").read_text()
    assert "against their dense counterparts" not in plain  # no ViTs: no section
    dense = [None, None, 1.5, 2.5]  # y's networks are reduced variants of dense ones measured at 1.5 and 2.5 ms
    frame = frame.assign(
        token_form=[None, None, "dynamic", "fixed_count"],
        token_macs=[None, None, 2e8, 3e8],
        image_median_ms=[None, None, 1.8, None],
        dense_median_ms=dense,
        speedup_vs_dense=[None, None, 1.5 / 1.8, 2.5 / 3.0],
        slower_than_dense=[None, None, True, True],
    )
    html = render_report(analyse_frame(frame, options=FAST), tmp_path / "tok").read_text()
    assert "Token-reduced ViTs against their dense counterparts" in html and "<b>Slower than dense</b>" in html
    assert "0.83×" in html and "200M" in html and "1.8" in html
    arch = frame["arch_id"].tolist()
    assert arch[2] in html.split("Slower than dense")[1].split("</p>")[0]
    faster = frame.assign(speedup_vs_dense=[None, None, 1.2, 1.1], slower_than_dense=[None, None, False, False])
    html = render_report(analyse_frame(faster, options=FAST), tmp_path / "fast").read_text()
    assert "No reduced variant is slower than its dense counterpart" in html
