"""`--reference`: a fixed network measured beside the spaces at their shape, recorded as a reference; and every way
the request can be wrong, each refused before the store is touched."""

from dataclasses import replace
from pathlib import Path

import pytest

from hwbench.errors import ConfigError
from hwbench.pipeline import SweepRequest, plan_sweep, run_sweep
from hwbench.pipeline.references import reference_paths
from hwbench.space.design_space import load_space
from hwbench.space.reference import at_shape, reference_of, reference_space
from tests.conftest import ROOT, TINY_MACRO, run_cli

ZOO = ROOT / "design_spaces" / "fixed"


def request(tmp_path: Path, spaces: list[Path], targets: list[Path], refs: list[str], **kw) -> SweepRequest:
    paths = [p for r in refs for p in reference_paths(r)]
    store = tmp_path / "r" / "s.sqlite"
    return SweepRequest(name="t", spaces=spaces, targets=targets, n=2, store=store, references=paths, **kw)


def test_reference_names_resolve_to_the_builtin_zoo_from_anywhere(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "design_spaces").mkdir()  # a folder with spaces of its own shadows the checkout's for --space
    assert reference_paths("mobilenet_v2") == [ZOO / "mobilenet_v2.yaml"]
    with pytest.raises(ConfigError, match=r"--reference: no such file or fixed network; the built-in ones: .*resnet18"):
        reference_paths("resnet19")


def test_a_sweep_measures_the_reference_at_the_spaces_shape(
    tmp_path: Path, tiny_spaces: dict, fast_targets: dict
) -> None:
    from hwbench.analysis.table import results_frame
    from hwbench.store import Store

    req = request(tmp_path, [tiny_spaces["mbconv"]], [fast_targets["ort"]], ["mobilenet_v2_050"], report=False)
    counts = run_sweep(req)
    assert counts == {"archs": 3, "exports": 3, "measurements": 3}
    expected = at_shape(load_space(ZOO / "mobilenet_v2_050.yaml").fixed, 32, 10)  # the tiny macro: 32 px, 10 classes
    store = Store(req.store, create=False)
    frame = results_frame(store, ["t"])
    ref = frame[frame["reference"] != ""]
    assert ref["arch_id"].tolist() == [expected.arch_id] and ref["space"].tolist() == ["reference:mobilenet_v2_050"]
    assert ref["status"].tolist() == ["ok"] and ref["block"].tolist() == ["mbconv"]
    assert (frame.loc[frame["reference"] == "", "space"] == "tiny_mbconv").all()
    store.close()
    assert run_sweep(req) == {"archs": 3, "exports": 0, "measurements": 0}  # resumes like any network
    shown = run_cli("show", "t", "--store", str(req.store), "--columns", "space,flags", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if "reference:mobilenet_v2_050" in line]
    assert len(lines) == 1 and "ref." in lines[0]
    assert "ref. = a reference network" in " ".join(shown.stdout.split())


def test_cli_refuses_an_unknown_reference(tmp_path: Path) -> None:
    out = run_cli("sweep", "--reference", "resnet19", "--no-train", "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)
    assert out.returncode == 2 and "resnet19: --reference: no such file or fixed network" in out.stderr
    assert not (tmp_path / "s.sqlite").exists()


def test_reference_shape_helpers() -> None:
    assert reference_of(reference_space("resnet18")) == "resnet18" and reference_of("mbconv") == ""
    deit = load_space(ZOO / "deit_tiny.yaml").fixed
    assert at_shape(deit, 32, 10).arch.num_tokens == 5  # 2×2 patches + the class token
    with pytest.raises(
        ConfigError, match=r"--reference: cannot be measured at the sweep's 40 px .* multiple of the patch"
    ):
        at_shape(deit, 40, 10, "deit_tiny.yaml")


def other_macro(tmp_path: Path, resolution: str, name: str = "other") -> Path:
    """A tiny space whose macro differs from the tiny macro in its resolution only."""
    macro = tmp_path / "design_spaces" / "macros" / f"{name}.yaml"
    macro.write_text(TINY_MACRO.replace("resolution: 32", f"resolution: {resolution}"))
    space = tmp_path / "design_spaces" / f"{name}.yaml"
    space.write_text(f"name: {name}\nmacro: macros/{name}.yaml\nblock: fused_mbconv\n")
    return space


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("disagree", r"the sweep's spaces disagree on resolution or classes \(32 px, 10 classes: tiny_mbconv; "),
        ("sampled", r"resolution: is sampled .* a reference is measured at one resolution"),
        ("vit_misfit", r"deit_tiny.yaml: --reference: cannot be measured at the sweep's 40 px"),
        ("not_fixed", r"mbconv.yaml: --reference: mbconv is a design space; a reference is a fixed network"),
        ("twice", r"--reference: two references share the name 'resnet18'"),
        ("no_space", r"--reference: a reference is added when the sweep samples: give the sweep's --space too"),
        (
            "detector",
            r"resnet18\.yaml: --reference: resnet18 is a classification network \(cnn\) and the sweep's "
            r"spaces are detection spaces: a reference is compared on its own task's fronts \(e\.g\. ssdlite",
        ),
        ("classifier", r"ssdlite_mobilenet_v2 is a detection network \(det\) and the sweep's spaces are classif"),
        ("mixed", r"--reference: the sweep mixes tasks \(classification: tiny_mbconv; detection: det_mbconv\)"),
        (
            "det_misfit",
            r"ssdlite_mobilenet_v2\.yaml: --reference: cannot be measured at the sweep's 48 px and 10 "
            r"classes: resolution: 48 is not a multiple of the backbone stride 32",
        ),
    ],
)
def test_bad_references_are_refused_before_anything_is_stored(
    tmp_path: Path, tiny_spaces: dict, fast_targets: dict, case: str, message: str
) -> None:
    spaces, refs = [tiny_spaces["mbconv"]], ["resnet18"]
    if case == "disagree":
        spaces.append(other_macro(tmp_path, "64"))
    elif case == "sampled":
        spaces = [other_macro(tmp_path, "{choice: [32, 64]}")]
    elif case == "vit_misfit":
        spaces, refs = [other_macro(tmp_path, "40")], ["deit_tiny"]
    elif case == "not_fixed":
        refs = [str(ROOT / "design_spaces" / "mbconv.yaml")]
    elif case == "twice":
        refs = ["resnet18", "resnet18"]
    elif case == "no_space":
        spaces = []
    elif case == "detector":
        spaces = [ROOT / "design_spaces" / "det_mbconv.yaml"]
    elif case == "classifier":
        refs = ["ssdlite_mobilenet_v2"]
    elif case == "mixed":
        spaces.append(ROOT / "design_spaces" / "det_mbconv.yaml")
    elif case == "det_misfit":
        spaces, refs = [det_space(tmp_path, tiny_spaces["mbconv"], 48)], ["ssdlite_mobilenet_v2"]  # 48 = 3 x 16
    req = request(tmp_path, spaces, [fast_targets["ort"]], refs, stage="measure" if case == "no_space" else "all")
    with pytest.raises(ConfigError, match=message):
        plan_sweep(req)
    assert not req.store.exists()


def test_references_train_with_the_sweep(tmp_path: Path, tiny_spaces: dict, fast_targets: dict) -> None:
    """The training plan checks the references too: at the spaces' class count they fit the dataset."""
    req = request(tmp_path, [tiny_spaces["mbconv"]], [fast_targets["ort"]], ["resnet18"], dataset="digits")
    plan = plan_sweep(req)
    assert [r.fixed.arch.num_classes for r in plan.references] == [10] and plan.training is not None


def det_space(tmp_path: Path, backbone: Path, resolution: int) -> Path:
    """A detector space over a backbone space (the tiny one: total stride 16) at `resolution` px, 10 classes."""
    path = tmp_path / f"det_{resolution}.yaml"
    head = "{type: ssdlite, width: 8, levels: 2, extra_levels: 1}"
    path.write_text(
        f"name: det_{resolution}\nbackbone: {backbone}\ndetector:\n  resolution: {resolution}\n  num_classes: 10\n"
        f"  head: {head}\n  anchors: {{preset: default, scale: 0.5}}\n"
    )
    return path


def test_a_detection_sweep_measures_the_ssdlite_reference_at_its_shape(
    tmp_path: Path, tiny_spaces: dict, fast_targets: dict
) -> None:
    """The SSD-lite reference re-written at a detector space's shape (det_mbconv: 128 px, 10 classes), then, in a
    sweep of tiny detectors at 32 px, sampled, exported and measured like them."""
    from hwbench.analysis.table import results_frame
    from hwbench.models.detector import num_boxes
    from hwbench.store import Store

    det_mbconv = ROOT / "design_spaces" / "det_mbconv.yaml"
    (ref,) = plan_sweep(request(tmp_path, [det_mbconv], [fast_targets["ort"]], ["ssdlite_mobilenet_v2"])).references
    arch = ref.fixed.arch
    assert (arch.resolution, arch.num_classes, arch.head.extra_widths) == (128, 10, [512, 256, 256, 128])
    assert num_boxes(ref.fixed) == 8 * 8 * 3 + (4 * 4 + 2 * 2 + 1 + 1 + 1) * 6  # extras at 2, 1, 1, 1 cells
    space = det_space(tmp_path, tiny_spaces["mbconv"], 32)
    req = replace(request(tmp_path, [space], [fast_targets["ort"]], ["ssdlite_mobilenet_v2"]), n=1, report=False)
    (ref,) = plan_sweep(req).references
    assert run_sweep(req) == {"archs": 2, "exports": 2, "measurements": 2}
    db = Store(req.store, create=False)
    frame = results_frame(db, ["t"])
    db.close()
    row = frame[frame["reference"] == "ssdlite_mobilenet_v2"]
    assert row["arch_id"].tolist() == [ref.fixed.arch_id] and row["status"].tolist() == ["ok"]
    assert row["boxes"].tolist() == [num_boxes(ref.fixed)] == [2 * 2 * 3 + 5 * 6]  # 32 px: 2x2, then 1x1 cells
