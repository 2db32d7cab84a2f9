"""A pruned detector (checkpoint surgery, a level emptied) exports to every format with parity over boxes and
scores, from its sliced weights; an emptied level leaves no trace in the exported graph's box count."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hwbench.models import build_model
from hwbench.pruning.anchor_index import box_anchor_ids
from hwbench.pruning.surgery import prune_model
from hwbench.space.archspec import ArchSpec
from tests.export.test_det_export import CLASSES, HEADS, export, tiny_detector
from tests.pruning.test_surgery import spread

pytestmark = pytest.mark.export

# Default preset on the tiny detector: 4 anchors per level (indices 0-3, 4-7, 8-11); level 1 emptied, two more gone.
REMOVED = {4, 5, 6, 7, 1, 10}


@pytest.fixture(scope="module", params=HEADS)
def pruned(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ArchSpec, str]:
    """(artifact folder, pruned spec, its sliced weights file) for each head type."""
    base = tmp_path_factory.mktemp(f"pruned_{request.param}")
    spec = tiny_detector(base / "design_spaces", request.param)
    model, small = prune_model(spread(build_model(spec)), spec.arch, REMOVED)  # type: ignore[arg-type]
    weights = base / "pruned.pt"
    torch.save(model.state_dict(), weights)
    return base, ArchSpec(small), str(weights)


@pytest.mark.parametrize(("fmt", "precision"), [("onnx", "fp32"), ("tflite", "fp32"), ("tflite", "int8")])
def test_pruned_detector_exports_with_parity(pruned: tuple[Path, ArchSpec, str], fmt: str, precision: str) -> None:
    root, spec, weights = pruned
    result = export(root, spec, fmt, precision, weights=weights)
    outputs = result["info_json"]["parity"]["outputs"]
    n = len(box_anchor_ids(spec.arch))  # type: ignore[arg-type]
    assert n == 64 * 3 + 0 + 4 * 3
    if precision == "fp32":  # shapes [1, N, 4] and [1, N, C], parity on both
        assert [o["shape"][1] for o in outputs] == [n, n] and result["parity_ok"] is True
    else:  # int8 fidelity per output over calibration samples ([N, 4] and [N, C] each), as for every detector
        assert [o["shape"][0] for o in outputs] == [n, n] and all(o["int8_cosine"] > 0.99 for o in outputs)


def test_pruned_onnx_runs_on_openvino(pruned: tuple[Path, ArchSpec, str]) -> None:
    import numpy as np
    import openvino as ov

    from tests.export.test_det_export import artifact

    root, spec, weights = pruned
    path = artifact(root, export(root, spec, "onnx", weights=weights))
    compiled = ov.Core().compile_model(path, "CPU")
    out = compiled(np.zeros((1, 3, 32, 32), np.float32))
    n = len(box_anchor_ids(spec.arch))  # type: ignore[arg-type]
    assert [tuple(v.shape) for v in out.values()] == [(1, n, 4), (1, n, CLASSES)]
