"""A sweep of paired ViT spaces: the artifact form per target, and each reduced network against its dense one."""

from __future__ import annotations

import json
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


@pytest.mark.extended  # the default suite: the trainer trains each mechanism (tests/accuracy/test_token_phase.py), ViT sweeps (above)
def test_vit_sweep_on_digits_trains_the_mechanisms_and_stores_what_they_learned(tmp_path: Path) -> None:
    """LTMP gets its threshold epoch, the pruner its keep-ratio loss; the trained record keeps the outcome, and
    the artifact exported from the trained weights keeps the learned thresholds (no re-calibration)."""
    spaces = write_spaces(tmp_path / "design_spaces")
    target = write_target(tmp_path / "targets", "ort", "onnxruntime", "{format: onnx, token_form: static}")
    schedule = tmp_path / "sched.yaml"
    schedule.write_text("epochs: 1\nbatch_size: 64\nresolution: 32\noptimizer: {name: adamw, lr: 0.003}\n")
    req = SweepRequest(
        name="d",
        spaces=[spaces["vit_ltmp"], spaces["vit_mlp_prune"]],
        targets=[target],
        n=1,
        store=tmp_path / "r" / "s.sqlite",
        report=False,
        dataset="digits",
        schedule=schedule,
        eval_artifacts="all",
    )
    counts = run_sweep(req)
    assert counts["trained"] == 2 and counts["artifact_evals"] == 2
    store = Store(req.store)
    rows = store.query("SELECT source, status, info_json, top1, evaluated_on FROM accuracies")
    trained = {json.loads(r["info_json"])["token_training"]["method"]: r for r in rows if r["source"] == "trained"}
    assert set(trained) == {"ltmp", "mlp_prune"} and {r["status"] for r in rows} == {"ok"}
    ltmp = json.loads(trained["ltmp"]["info_json"])["token_training"]
    assert ltmp["threshold_phase"]["steps"] > 0 and len(ltmp["merge_thresholds"]) == len(ltmp["prune_thresholds"])
    assert 0 < ltmp["flops_ratio"] <= 1 and ltmp["flops_target"] in (0.5, 0.8)
    prune = json.loads(trained["mlp_prune"]["info_json"])["token_training"]
    assert len(prune["keep_ratio"]) == len(prune["keep_targets"]) > 0
    scored = [json.loads(r["info_json"]) for r in rows if r["source"] == "artifact"]
    assert {i["token_form"] for i in scored} == {"fixed_count"} and all(i["capacities"] for i in scored)
    assert not any("calibration" in i for i in scored)  # trained thresholds and selectors are kept as learned
