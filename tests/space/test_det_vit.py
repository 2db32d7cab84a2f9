"""The det_vit family's pruning knobs: the decision rule (`threshold`) is part of the network's identity, and a
bad value fails naming the key, in an arch and in a space file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hwbench.errors import ConfigError
from hwbench.space.archspec import ArchSpec
from hwbench.space.design_space import load_space
from tests.models.test_det_vit import PRUNE, det_spec

ROOT = Path(__file__).resolve().parents[2]


def test_threshold_defaults_to_calibrated_and_changes_the_key() -> None:
    calibrated = det_spec("vit_mlp_prune", **PRUNE)
    learned = det_spec("vit_mlp_prune", pruning={"threshold": "learned"}, **PRUNE)
    assert calibrated.arch.pruning.threshold == "calibrated"  # type: ignore[attr-defined]
    assert learned.arch_id != calibrated.arch_id


def test_bad_threshold_names_the_key(tmp_path: Path) -> None:
    data = det_spec("vit_mlp_prune", **PRUNE).to_dict()
    data["pruning"]["threshold"] = "median"
    with pytest.raises(ConfigError, match="pruning.threshold.*'calibrated' or 'learned'"):
        ArchSpec.from_dict(data)
    spaces = tmp_path / "spaces"
    shutil.copytree(ROOT / "design_spaces", spaces)
    path = spaces / "det_vit_prune.yaml"
    text = path.read_text()
    assert "threshold: calibrated" in text
    path.write_text(text.replace("threshold: calibrated", "threshold: median"))
    with pytest.raises(ConfigError, match="det_vit_prune.yaml: pruning.threshold"):
        load_space(path)
