"""Stages run alone: export on one machine, measure and train on another from a copy of the results folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hwbench.errors import ConfigError, HwbenchError
from hwbench.pipeline import SweepRequest, plan_sweep, run_sweep
from hwbench.pipeline.keys import SweepKeys
from hwbench.progress import NullProgress
from hwbench.store import Store

SCHEDULE = "epochs: 1\nbatch_size: 32\nresolution: 16\ntrain_images: 256\n"


def request(root: Path, **kw: object) -> SweepRequest:
    kw.setdefault("report", False)
    return SweepRequest(name="t", n=2, seed=0, store=root / "results" / "s.sqlite", **kw)  # type: ignore[arg-type]


def records(store_path: Path) -> dict[str, object]:
    """What a sweep left in a store, by key: runs with their keys, accuracies linked, export statuses."""
    store = Store(store_path, create=False)
    try:
        return {
            "runs": sorted(tuple(r) for r in store.query("SELECT arch_id, target, export_key, measure_key FROM runs")),
            "accuracies": sorted(
                tuple(r) for r in store.query("SELECT arch_id, acc_key FROM sweep_accuracy WHERE sweep='t'")
            ),
            "exports": sorted(tuple(r) for r in store.query("SELECT export_key, status FROM exports")),
        }
    finally:
        store.close()


@pytest.fixture
def schedule(tmp_path: Path) -> Path:
    path = tmp_path / "sched.yaml"
    path.write_text(SCHEDULE)
    return path


@pytest.mark.slow
def test_stages_chained_across_two_folders_match_one_sweep(
    tmp_path: Path, tiny_spaces: dict, fast_targets: dict, schedule: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spaces, targets = [tiny_spaces["mbconv"]], [fast_targets["ort"]]
    data = {"dataset": "digits", "schedule": schedule}
    build, boards = tmp_path / "build", tmp_path / "boards"

    # The build machine: sample and export only; every (network, target) is linked to its export.
    counts = run_sweep(request(build, spaces=spaces, targets=targets, stage="export", **data))
    assert counts == {"archs": 2, "exports": 2}
    exported = records(build / "results" / "s.sqlite")
    assert [r[3] for r in exported["runs"]] == [None, None] and all(r[2] for r in exported["runs"])

    # The results folder moves next to the boards; measuring there never derives an export key (the converters
    # that key names need not be installed there), and finds its networks in the store, without --space.
    shutil.copytree(build, boards)
    monkeypatch.setattr(SweepKeys, "export", lambda *a: pytest.fail("the measure stage derived an export key"))
    counts = run_sweep(request(boards, spaces=[], targets=targets, stage="measure"))
    assert counts == {"archs": 2, "measurements": 2}
    monkeypatch.undo()
    counts = run_sweep(request(boards, spaces=[], targets=[], stage="train", **data))
    assert counts["trained"] == 2

    # One sweep of every stage, elsewhere, stores the same records under the same keys.
    whole = tmp_path / "whole"
    run_sweep(request(whole, spaces=spaces, targets=targets, **data))
    assert records(boards / "results" / "s.sqlite") == records(whole / "results" / "s.sqlite")

    # Each stage resumes: run again, nothing is redone.
    again = run_sweep(request(boards, spaces=[], targets=targets, stage="measure"))
    assert again == {"archs": 2, "measurements": 0}


def test_measure_stage_needs_a_stored_sweep_and_creates_no_store(tmp_path: Path, fast_targets: dict) -> None:
    req = request(tmp_path, spaces=[], targets=[fast_targets["ort"]], stage="measure")
    with pytest.raises(HwbenchError, match=r"no results store here"):
        run_sweep(req)
    assert not req.store.exists()
    Store(req.store).close()  # an empty store: the sweep is not in it
    with pytest.raises(HwbenchError, match=r"no sweep 't' here; run `hwbench sweep --name t --stage export` first"):
        run_sweep(req)


def test_measure_stage_leaves_unexported_networks_pending(
    tmp_path: Path, tiny_spaces: dict, fast_targets: dict
) -> None:
    """A target the export stage never saw: its networks are pending, with a note that says what to run."""
    run_sweep(request(tmp_path, spaces=[tiny_spaces["mbconv"]], targets=[fast_targets["ort"]], stage="export"))

    notes: list[str] = []

    class Notes(NullProgress):
        def note(self, message: str) -> None:
            notes.append(message)

    req = request(tmp_path, spaces=[], targets=[fast_targets["torch"]], stage="measure")
    assert run_sweep(req, Notes()) == {"archs": 2, "measurements": 0}
    assert any("t-torch: 2 of 2 networks have no export for this target" in n for n in notes)
    store = Store(req.store)
    rows = store.query("SELECT export_key, measure_key FROM runs WHERE target='t-torch'")
    assert [tuple(r) for r in rows] == [(None, None), (None, None)]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"stage": "measur"}, r"--stage: expected one of all, export, measure, train, got 'measur'"),
        ({"executor": "dask"}, r"--executor: expected one of auto, local, ray, got 'dask'"),
        ({"stage": "train", "spaces": []}, r"--stage: train needs a dataset"),
        ({"stage": "export", "spaces": []}, r"--space: give at least one design space"),
        ({"stage": "measure", "targets": []}, r"--target: give at least one target"),
    ],
)
def test_stage_options_are_checked(
    tmp_path: Path, tiny_spaces: dict, fast_targets: dict, kw: dict, message: str
) -> None:
    kw = {"spaces": [tiny_spaces["mbconv"]], "targets": [fast_targets["ort"]], **kw}
    with pytest.raises(ConfigError, match=message):
        plan_sweep(request(tmp_path, **kw))


def test_a_ray_node_target_needs_the_ray_executor(tmp_path: Path, tiny_spaces: dict) -> None:
    from tests.conftest import write_target

    extra = "transport: ray-node\nray_resource: arm-1\n"
    target = write_target(tmp_path / "targets", "t-node", "onnxruntime", "{format: onnx, opset: 18}", extra=extra)
    req = request(tmp_path, spaces=[tiny_spaces["mbconv"]], targets=[target], executor="local")
    with pytest.raises(
        ConfigError, match=r"t-node.yaml: transport: target 't-node' \(transport: ray-node\) is measured"
    ):
        plan_sweep(req)
