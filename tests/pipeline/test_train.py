"""Training inside a sweep: results in the table, resume without retraining, failures recorded and retried,
artifact accuracy through onnxruntime, and every bad input stopped before anything is stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbench.analysis.table import results_frame
from hwbench.errors import ConfigError
from hwbench.pipeline import SweepRequest, run_sweep
from hwbench.store import Store
from tests.accuracy.layouts import write_imagefolder
from tests.conftest import write_target

SCHEDULE = "epochs: 2\nbatch_size: 32\nresolution: 16\nlr_schedule: {warmup_epochs: 0.5}\n"


def request(tmp_path: Path, spaces: list[Path], targets: list[Path], n: int = 1, **kw: object) -> SweepRequest:
    schedule = tmp_path / "sched.yaml"
    schedule.write_text(SCHEDULE)
    kw.setdefault("dataset", "digits")
    kw.setdefault("schedule", schedule)
    kw.setdefault("report", False)
    return SweepRequest(name="t", spaces=spaces, targets=targets, n=n, seed=0, store=tmp_path / "r" / "s.sqlite", **kw)


def accuracy_rows(store_path: Path) -> dict[str, tuple]:
    store = Store(store_path)
    rows = {r["acc_key"]: (r["source"], r["status"], r["created_at"]) for r in store.query("SELECT * FROM accuracies")}
    store.close()
    return rows


def test_train_resume_and_artifact_accuracy(tmp_path: Path, tiny_spaces: dict, fast_targets: dict) -> None:
    spaces = [tiny_spaces["mbconv"], tiny_spaces["convnext"]]
    # The TorchScript exporter keeps this test quick; the dynamo one is covered in tests/accuracy/test_evaluate.py.
    target = write_target(tmp_path / "targets", "t-ts", "onnxruntime", "{format: onnx, exporter: torchscript}")
    req = request(tmp_path, spaces, [target], eval_artifacts="all")
    counts = run_sweep(req)
    assert counts == {"archs": 2, "exports": 2, "measurements": 2, "trained": 2, "artifact_evals": 2}
    frame = results_frame(Store(req.store), ["t"])
    assert frame["top1"].gt(0.3).all() and set(frame["dataset"]) == {"digits"}
    assert set(frame["schedule"]) == {"sched"} and set(frame["accuracy_source"]) == {"trained"}
    # fp32 ONNX from the trained weights scores like the PyTorch model (one flipped tie at most).
    assert (frame["artifact_top1"] - frame["top1"]).abs().max() <= 1 / 359
    assert len(list(req.weights_dir.glob("*.pt"))) == 2
    before = accuracy_rows(req.store)
    assert sorted(s for s, _, _ in before.values()) == ["artifact", "artifact", "trained", "trained"]

    again = run_sweep(req)  # same command: nothing trained or evaluated again
    assert again == {"archs": 2, "exports": 0, "measurements": 0, "trained": 0, "artifact_evals": 0}
    assert accuracy_rows(req.store) == before

    other_seed = request(tmp_path, spaces, [target], train_seed=1, eval_artifacts="none")
    assert run_sweep(other_seed)["trained"] == 2  # a new seed is a new key
    assert len(accuracy_rows(req.store)) == 6


@pytest.mark.extended  # the default suite: calibration on the dataset (tests/export/test_calibration.py), artifact accuracy (above)
def test_int8_artifact_is_calibrated_on_the_dataset(tmp_path: Path, tiny_spaces: dict) -> None:
    import json

    target = write_target(tmp_path / "targets", "t-int8", "tflite", "{format: tflite, precision: int8}")
    req = request(tmp_path, [tiny_spaces["mbconv"]], [target])  # int8: artifact accuracy by default
    assert run_sweep(req)["artifact_evals"] == 1
    store = Store(req.store)
    [row] = store.query("SELECT info_json FROM accuracies WHERE source = 'artifact' AND status = 'ok'")
    info = json.loads(row["info_json"])
    assert info["int8_calibration"]["source"] == "dataset" and info["int8_calibration"]["dataset"] == "digits"
    assert "files" not in info["int8_calibration"] and info["int8_fidelity"]["int8_top1_agreement"] > 0.5
    # The latency artifact is calibrated on the sweep's dataset too (at the network's own resolution).
    frame = results_frame(store, ["t"])
    assert frame["calibration"].str.startswith("dataset digits").all()
    assert (frame["top1"] - frame["artifact_top1"]).abs().max() < 0.2


def test_failed_training_is_recorded_and_retried(tmp_path: Path, tiny_spaces: dict, fast_targets: dict) -> None:
    req = request(tmp_path, [tiny_spaces["fused_mbconv"]], [fast_targets["torch"]], n=2, train_timeout=0.01)
    assert run_sweep(req)["trained"] == 2
    errors = [r for r in Store(req.store).query("SELECT status, error FROM accuracies")]
    assert [r["status"] for r in errors] == ["error"] * 2 and all("timed out" in r["error"] for r in errors)
    assert results_frame(Store(req.store), ["t"])["top1"].isna().all()

    assert run_sweep(request(tmp_path, [tiny_spaces["fused_mbconv"]], [fast_targets["torch"]], n=2))["trained"] == 0
    retry = request(tmp_path, [tiny_spaces["fused_mbconv"]], [fast_targets["torch"]], n=2, retry_errors=True)
    assert run_sweep(retry)["trained"] == 2
    assert results_frame(Store(req.store), ["t"])["top1"].notna().all()


def test_int8_targets_ask_for_artifact_accuracy_by_default(tmp_path: Path, fast_targets: dict) -> None:
    from hwbench.config.target import load_target

    assert load_target(fast_targets["ort"]).evaluate_accuracy is False  # fp32: off unless asked
    path = fast_targets["ort"].parent / "opt-in.yaml"
    path.write_text(fast_targets["ort"].read_text() + "evaluate_accuracy: true\n")
    assert load_target(path).evaluate_accuracy is True


def test_bad_training_input_stops_before_the_store(tmp_path: Path, tiny_spaces: dict, fast_targets: dict) -> None:
    three_classes = write_imagefolder(tmp_path / "three", classes=3, per_class=4)
    cases = [
        (
            {"dataset": f"imagefolder:{three_classes}"},
            r"tiny_mbconv.yaml: num_classes: the networks have 10 outputs but dataset imagefolder:.* has 3 classes",
        ),
        ({"dataset": f"cifar10:{tmp_path / 'nope'}"}, r"nope: dataset path does not exist"),
        ({"dataset": f"mnist:{three_classes}"}, r"not an IDX dataset folder"),
        ({"dataset": "digitz"}, r"did you mean 'digits'"),
        ({"schedule": "shortt"}, r"did you mean 'short'"),
        ({"train_device": "tpu"}, r"--train-device: expected one of auto, cpu, cuda"),
        ({"eval_artifacts": "some"}, r"--eval-artifacts: expected one of auto, all, none"),
    ]
    for overrides, message in cases:
        req = request(tmp_path, [tiny_spaces["mbconv"]], [fast_targets["ort"]], **overrides)
        with pytest.raises(ConfigError, match=message):
            run_sweep(req)
        assert not req.store.exists()


def test_resolution_too_small_for_the_network(tmp_path: Path, fast_targets: dict) -> None:
    from tests.conftest import ROOT

    req = request(tmp_path, [ROOT / "design_spaces" / "convnext.yaml"], [fast_targets["ort"]])
    with pytest.raises(ConfigError, match=r"sched.yaml: resolution: 16 px is too small for network \w+ of convnext"):
        run_sweep(req)
    assert not req.store.exists()  # found while planning, from one draw of the space
    # The training stage checks every sampled network the same way.
    from hwbench.accuracy.datasets import inspect_dataset, parse_dataset
    from hwbench.accuracy.schedule import load_schedule
    from hwbench.pipeline.sample import SweepArch
    from hwbench.pipeline.training_plan import TrainingPlan, check_resolution
    from hwbench.space.design_space import load_space
    from hwbench.space.sampling import sample_space

    ref = parse_dataset("digits")
    tp = TrainingPlan(ref, inspect_dataset(ref), load_schedule(tmp_path / "sched.yaml"), "id", 0)
    sampled = sample_space(load_space(ROOT / "design_spaces" / "convnext.yaml"), 2, 5)
    with pytest.raises(ConfigError, match=r"resolution: 16 px is too small for network \w+ of convnext"):
        check_resolution([SweepArch("convnext", s.index, s.spec) for s in sampled], tp)


def test_a_crashed_worker_is_a_record_and_the_sweep_goes_on(
    tmp_path: Path, tiny_spaces: dict, fast_targets: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hwbench.accuracy.trainer as trainer
    from hwbench.pipeline.training_plan import train_key, weights_path
    from hwbench.space.archspec import ArchSpec
    from tests.accuracy import crashers

    req = request(tmp_path, [tiny_spaces["resnet_bottleneck"]], [fast_targets["torch"]], n=2)
    store = Store(req.store)
    run_sweep(SweepRequest(**{**req.__dict__, "dataset": None}))  # latency first, to know the networks
    specs = [ArchSpec.from_json(r["spec_json"]) for r in store.query("SELECT spec_json FROM archs ORDER BY arch_id")]
    from hwbench.pipeline import plan_sweep

    victim = weights_path(req, train_key(specs[0], plan_sweep(req).training))
    monkeypatch.setenv("HWBENCH_TEST_VICTIM", str(victim))
    monkeypatch.setattr(trainer, "train_job", crashers.kill_first_network)  # the worker imports it by name
    assert run_sweep(req)["trained"] == 2
    rows = {r["arch_id"]: r for r in store.query("SELECT * FROM accuracies")}
    assert rows[specs[0].arch_id]["status"] == "error"
    assert "worker crashed (exit code -9) (killed by the system: out of memory?)" in rows[specs[0].arch_id]["error"]
    assert rows[specs[1].arch_id]["status"] == "ok"
