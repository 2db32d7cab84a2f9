"""A sweep of paired ViT spaces: the artifact form per target, and each reduced network against its dense one."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from hwbench.analysis.table import results_frame
from hwbench.config.target import load_target
from hwbench.errors import ConfigError
from hwbench.pipeline import SweepRequest, run_sweep
from hwbench.store import Store
from tests.conftest import run_cli, write_target
from tests.space.test_vit_space import write_spaces


def test_vit_sweep_records_forms_and_dense_speedups(tmp_path: Path) -> None:
    """The target's token_form reaches the artifact and the results table; each reduced network is compared
    with its paired dense network on the same target."""
    spaces = write_spaces(tmp_path / "design_spaces")
    target = write_target(tmp_path / "targets", "ort-static", "onnxruntime", "{format: onnx, token_form: static}")
    req = SweepRequest(
        name="v",
        spaces=[spaces["vit"], spaces["vit_ltmp"]],
        targets=[target],
        n=1,
        store=tmp_path / "r" / "s.sqlite",
        report=False,
    )
    assert run_sweep(req) == {"archs": 2, "exports": 2, "measurements": 2}
    frame = results_frame(Store(req.store), ["v"]).set_index("block")
    assert set(frame["status"]) == {"ok"}
    assert frame.loc["vit", "token_form"] == "dense" and frame.loc["vit_ltmp", "token_form"] == "fixed_count"
    row, dense = frame.loc["vit_ltmp"], frame.loc["vit"]
    assert row["dense_arch_id"] == dense["arch_id"]  # the paired backbone
    assert row["dense_median_ms"] == dense["median_ms"]
    assert row["speedup_vs_dense"] == pytest.approx(dense["median_ms"] / row["median_ms"])
    assert row["slower_than_dense"] == (row["speedup_vs_dense"] < 1)
    assert 0 < row["token_macs"] < 2 * dense["macs"] and pd.isna(dense["speedup_vs_dense"])
    assert run_sweep(req) == {"archs": 2, "exports": 0, "measurements": 0}
    shown = run_cli("show", "v", "--store", str(req.store), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "fixed_count" in shown.stdout and f"{row['speedup_vs_dense']:.2f}x" in shown.stdout
    assert ("SLOWER than dense" in shown.stdout) == bool(row["slower_than_dense"])


@pytest.mark.parametrize(
    ("token_form", "message"),
    [
        ("dynamc", "unknown token form 'dynamc'"),
        ("{vit_tom: mask}", "unknown token-reduced block 'vit_tom' (did you mean 'vit_tome'?)"),
        ("{vit_tome: mask}", "block 'vit_tome' has no token form 'mask'"),
    ],
)
def test_bad_token_forms_in_a_target_name_file_and_key(tmp_path: Path, token_form: str, message: str) -> None:
    path = write_target(tmp_path, "t", "onnxruntime", f"{{format: onnx, token_form: {token_form}}}")
    with pytest.raises(ConfigError, match=r"t\.yaml: export\.token_form: .*" + re.escape(message)):
        load_target(path)


def test_token_form_enters_the_export_profile_only_when_set(tmp_path: Path) -> None:
    auto = load_target(write_target(tmp_path, "a", "onnxruntime", "{format: onnx}"))
    static = load_target(write_target(tmp_path, "s", "onnxruntime", "{format: onnx, token_form: static}"))
    assert "token_form" not in auto.profile()  # CNN export keys of existing stores stay valid
    assert static.profile()["token_form"] == "static"
