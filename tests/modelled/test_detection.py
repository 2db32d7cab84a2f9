"""Detectors on a modelled target: modelled like any network, in a detection sweep that trains them too."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbench.modelled.job import model_job
from tests.conftest import ROOT
from tests.modelled.conftest import TARGETS, needs_zigzag
from tests.modelled.helpers import job_for, modelled_target

pytestmark = needs_zigzag()


@pytest.mark.extended  # a real training sweep (~30 s): the two parts are in the default suite on their own
@pytest.mark.export
def test_a_training_detection_sweep_models_its_detectors_beside_the_timed_ones(tmp_path: Path) -> None:
    from hwbench.analysis.modelled import modelled_frame
    from hwbench.pipeline import SweepRequest, run_sweep
    from tests.conftest import write_target
    from tests.pipeline.test_det_sweep import SCHEDULE

    modelled = tmp_path / "m-tpu.yaml"
    modelled.write_text(
        "name: m-tpu\nrunner: zigzag\nexport: {format: onnx, precision: fp32, opset: 18}\n"
        "runner_options: {accelerator: tpu_like, clock_mhz: 500, effort: lowest}\n"
    )
    timed = write_target(tmp_path / "targets", "t-ort", "onnxruntime", "{format: onnx}")
    (tmp_path / "sched.yaml").write_text(SCHEDULE)
    req = SweepRequest(name="d", spaces=[ROOT / "design_spaces" / "det_mbconv.yaml"], targets=[timed, modelled],
                       n=1, seed=0, store=tmp_path / "s.sqlite", dataset="digits-det",
                       schedule=tmp_path / "sched.yaml", report=False)  # fmt: skip
    counts = run_sweep(req)
    # The measured target times the trained detector in parts; the modelled one costs its graph (no NMS).
    assert counts["trained"] == 1 and counts["detection_timings"] == 1 and counts["modelled"] == 1
    from hwbench.store import Store

    store = Store(req.store)
    frame = modelled_frame(store, ["d"])
    assert len(frame) == 1 and frame["status"].tolist() == ["ok"] and frame["kind"].tolist() == ["modelled"]
    assert frame["latency_ms"].iloc[0] > 0 and 0 <= frame["map"].iloc[0] <= 1  # the detector's mAP beside it
    assert store.query("SELECT COUNT(*) FROM detection_timings")[0][0] == 1
    store.close()


@pytest.mark.extended
@pytest.mark.export
def test_a_detector_is_modelled(tmp_path: Path) -> None:
    from hwbench.space.design_space import load_space
    from hwbench.space.sampling import sample_space
    from tests.modelled.conftest import export_onnx

    spec = sample_space(load_space(ROOT / "design_spaces" / "det_mbconv.yaml"), 1, 0)[0].spec
    onnx, _ = export_onnx(spec.to_dict(), tmp_path)
    result = model_job(job_for(modelled_target(TARGETS[0]), onnx))
    assert result["status"] == "ok" and result["mac_coverage"] == 1.0, result.get("error")
    assert "softmax" in result["coverage"]["by_kind"]  # the box decoding's scores: counted, not costed
