"""Detectors on a modelled target: modelled like any network; a detection sweep that trains refuses the target."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbench.errors import ConfigError
from hwbench.modelled.job import model_job
from tests.conftest import ROOT
from tests.modelled.conftest import TARGETS, needs_zigzag
from tests.modelled.helpers import job_for, modelled_target

pytestmark = needs_zigzag()


def test_a_training_detection_sweep_refuses_a_modelled_target(tmp_path: Path) -> None:
    from hwbench.pipeline import SweepRequest
    from hwbench.pipeline.plan import plan_sweep

    spaces, targets = [ROOT / "design_spaces" / "det_mbconv.yaml"], [TARGETS[0]]
    request = SweepRequest(name="d", spaces=spaces, targets=targets, n=1, seed=0, store=tmp_path / "s.sqlite",
                           dataset="digits-det", schedule="det_demo")  # fmt: skip
    with pytest.raises(ConfigError, match=r"model-edge-tpu-like.yaml: runner: a modelled target cannot time trained"):
        plan_sweep(request)


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
