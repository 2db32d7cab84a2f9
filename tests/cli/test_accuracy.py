"""The accuracy side of the CLI as a user meets it: training in a sweep, import-accuracy, listings, bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[str]]:
    """A 2-network sweep trained on the built-in dataset with a 1-epoch schedule."""
    from tests.conftest import TINY_MACRO, TINY_SPACE, write_target

    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "design_spaces" / "macros").mkdir(parents=True)
    (tmp / "design_spaces" / "macros" / "tiny.yaml").write_text(TINY_MACRO)
    space = tmp / "design_spaces" / "tiny.yaml"
    space.write_text(TINY_SPACE.format(name="tiny", block="fused_mbconv"))
    target = write_target(tmp / "targets", "t-torch", "torch", "{format: torch}")
    (tmp / "one.yaml").write_text("epochs: 1\nbatch_size: 32\nresolution: 16\n")
    store = str(tmp / "s.sqlite")
    args = ["sweep", "--space", str(space), "--target", str(target), "--n", "2", "--name", "c", "--store", store]
    out = run_cli(*args, "--schedule", str(tmp / "one.yaml"), "--no-report", cwd=tmp)
    assert out.returncode == 0, out.stderr
    assert "2 trained" in out.stderr
    frame = pd.read_csv(_export(tmp, store))
    return tmp, store, list(frame["arch_id"])


def _export(tmp: Path, store: str) -> Path:
    path = tmp / "t.csv"
    assert run_cli("export-table", "c", "-o", str(path), "--store", store, cwd=tmp).returncode == 0
    return path


def test_sweep_trains_and_shows_accuracy(swept) -> None:
    tmp, store, _ = swept
    frame = pd.read_csv(_export(tmp, store))
    assert frame["top1"].between(0, 1).all() and set(frame["dataset"]) == {"digits"}
    shown = run_cli("show", "c", "--accuracy", "--store", store, cwd=tmp)
    assert shown.returncode == 0 and shown.stdout.count("digits") == 2 and "trained" in shown.stdout
    table = run_cli("show", "c", "--store", store, cwd=tmp)
    assert re.search(r"\d+\.\d%", table.stdout)


def test_import_accuracy(swept) -> None:
    tmp, store, archs = swept
    csv = tmp / "acc.csv"
    csv.write_text(
        f"arch_id,dataset,metric,value\n{archs[0]},imagenet,top1,0.761\n{archs[0]},imagenet,top5,93%\n{archs[1]},imagenet,top1,0.70\n"
    )
    out = run_cli("import-accuracy", "c", str(csv), "--store", store, cwd=tmp)
    assert out.returncode == 0, out.stderr
    assert "2 accuracy records imported" in out.stdout
    frame = pd.read_csv(_export(tmp, store)).set_index("arch_id")
    assert frame.loc[archs[0], "top1"] == pytest.approx(0.761) and frame.loc[archs[0], "top5"] == pytest.approx(0.93)
    assert set(frame["accuracy_source"]) == {"imported"} and set(frame["dataset"]) == {"imagenet"}
    csv.write_text(f"arch_id,dataset,metric,value\n{archs[0]},imagenet,top1,0.5\n")
    assert run_cli("import-accuracy", "c", str(csv), "--store", store, cwd=tmp).returncode == 0
    shown = run_cli("show", "c", "--accuracy", "--store", store, cwd=tmp).stdout
    assert shown.count("imagenet") == 2  # re-importing replaces, never duplicates
    assert pd.read_csv(_export(tmp, store)).set_index("arch_id").loc[archs[0], "top1"] == pytest.approx(0.5)


BAD_CSV = [
    (
        "arch_id,dataset,metric,value\nfeedfacefeedface,cifar10,top1,0.5\n",
        r"acc.csv line 2: arch_id: 'feedfacefeedface' is not a network of sweep 'c'",
    ),
    (
        "arch_id,dataset,metric,value\n{a},cifar10,top1,76.1\n",
        r"acc.csv line 2: value: 76.1 is not a fraction in \[0, 1\] \(a percentage\? write 76.1% or 0.761\)",
    ),
    ("arch_id,dataset,metric,value\n{a},cifar10,top3,0.5\n", r"line 2: metric: expected one of top1, top5, got 'top3'"),
    (
        "arch_id,dataset,metric,value\n{a},cifar10,top1,0.5\n{a},cifar10,top1,0.6\n",
        r"line 3: repeats top1 of \w+ on cifar10 \(line 2\)",
    ),
    ("arch_id,dataset,value\n{a},cifar10,0.5\n", r"acc.csv: line 1: missing column\(s\) metric"),
    ("arch_id,dataset,metric,value,notes\n{a},cifar10,top1,0.5,x\n", r"unknown column\(s\) notes"),
    ("arch_id,dataset,metric,value\n{a},cifar10,top1,high\n", r"line 2: value: not a number: 'high'"),
    ("arch_id,dataset,metric,value\n", r"acc.csv: no accuracy rows"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CSV, ids=[m[:40] for _, m in BAD_CSV])
def test_import_accuracy_bad_input(swept, text: str, message: str) -> None:
    tmp, store, archs = swept
    csv = tmp / "acc.csv"
    csv.write_text(text.format(a=archs[1]))
    out = run_cli("import-accuracy", "c", str(csv), "--store", store, cwd=tmp)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and re.search(message, lines[0]), out.stderr


def test_bad_training_options_exit_2_before_the_store(tmp_path: Path, tiny_spaces: dict) -> None:
    store = tmp_path / "s.sqlite"
    base = ["sweep", "--space", str(tiny_spaces["mbconv"]), "--store", str(store)]
    for extra, message in (
        (["--dataset", f"cifar10:{tmp_path / 'none'}"], r"none: dataset path does not exist; .*\(or add --download"),
        (["--dataset", "imagefolder"], r"dataset 'imagefolder' needs a path"),
        (["--schedule", "long-and-winding"], r"unknown schedule 'long-and-winding'"),
    ):
        out = run_cli(*base, *extra, cwd=tmp_path)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and re.search(message, lines[0]), out.stderr
        assert not store.exists()


def test_listings() -> None:
    datasets = run_cli("datasets", cwd=ROOT)
    assert datasets.returncode == 0
    for name in ("digits", "cifar10", "cifar100", "imagefolder", "mnist", "fashion-mnist", "digits-det", "coco", "voc"):
        assert name in datasets.stdout
    assert "detection" in datasets.stdout and "classification" in datasets.stdout
    schedules = run_cli("schedules", cwd=ROOT)
    assert schedules.returncode == 0 and "short" in schedules.stdout
