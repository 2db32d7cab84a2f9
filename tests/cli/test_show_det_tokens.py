"""`hwbench show` on a sweep with pruning ViT detectors: their per-image backbone and end-to-end speed-ups over the
dense counterpart (median [p10–p90]) and the slower flag are shown by default within 80 columns, offered as column
choices, and written raw in CSV; detection sweeps without pruning detectors do not offer them."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from hwbench.cli import app
from hwbench.cli.show_tokens import SHIFT_MARK, speed_shift_note, speedup_cell
from hwbench.space.det_vit import dense_detector
from hwbench.store import Store
from hwbench.store.detection import put_detection_timing
from tests.analysis.test_detection_frame import _detection_accuracy, _timing, fill_detection
from tests.cli.test_show_detection import _table_lines
from tests.models.test_det_vit import PRUNE, det_spec
from tests.report.fill import add_result

# Per-image end-to-end and backbone-only ms (3 images): the dense detector, a faster pruned one (2x end to end,
# 3x on the backbone) and a slower one (its end to end is 1.25x the dense one's on every image).
E2E = {"dense": [2.0, 2.0, 4.0], "fast": [1.0, 1.0, 2.0], "slow": [2.5, 2.5, 5.0]}
BACKBONE = {"dense": [1.5, 1.5, 3.0], "fast": [0.5, 0.5, 1.0], "slow": [1.5, 1.5, 3.0]}


def fill_det_vit(store: Store, sweep: str = "dtp", canaries: dict[str, float] | None = None) -> dict[str, str]:
    """A dense ViT detector and two pruning ones, trained and timed in parts (with the backbone) on target cpu;
    `canaries`: each record's canary ms before and after its window (none: a record from before canaries)."""
    fast = det_spec("vit_mlp_prune", **PRUNE)
    specs = {
        "dense": dense_detector(fast),
        "fast": fast,
        "slow": det_spec("vit_mlp_prune", **{**PRUNE, "keep_ratio": 0.5}),
    }
    for i, (name, spec) in enumerate(specs.items()):
        arch = spec.arch_id
        store.put_arch(arch, "det_vit", spec.block, spec.canonical_json, {"macs": 10**7, "params": 10**5, "acts": 1})
        add_result(store, sweep, {"arch": arch, "block": spec.block, "index": i, "target": "cpu", "ms": 2.0})
        timing = _timing(arch, "cpu", 0, 20)
        timing["info_json"] = {**timing["info_json"], "e2e_ms": E2E[name], "graph_ms": E2E[name]}
        timing["info_json"]["backbone"] = {"image_median_ms": BACKBONE[name]}
        if canaries:
            ms = canaries[name]
            timing["info_json"]["canary"] = {"before_ms": ms, "after_ms": ms, "kind": "onnxruntime", "calls": 20}
        put_detection_timing(store, timing, None, [(sweep, arch, "cpu")])
        _detection_accuracy(store, sweep, arch, 0.3)
    return {name: spec.arch_id for name, spec in specs.items()}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("show_det_tokens") / "s.sqlite"
    db = Store(path)
    archs = fill_det_vit(db)
    fill_detection(db)  # a detection sweep 'det' without ViT detectors
    db.close()
    return path, archs


def _show(path: Path, *args: str, columns: int = 80) -> str:
    result = CliRunner().invoke(app, ["show", *args, "--store", str(path)], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def test_speedups_and_the_slower_flag_are_shown_by_default_within_80_columns(store: tuple[Path, dict]) -> None:
    path, _ = store
    out = _show(path, "dtp")
    lines = _table_lines(out)
    assert max(len(line) for line in lines) <= 80 and "…" not in out
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    assert [h.strip() for h in header.strip("┃").split("┃")] == ["space", "target", "mAP", "e2e ms", "e2e ×", "flags"]
    fast = next(line for line in lines if "2.00 [2.00–2.00]" in line)
    slow = next(line for line in lines if "0.80 [0.80–0.80]" in line)  # 2.0 / 2.5 on every image
    assert "slower" in slow and "slower" not in fast
    dense = next(line for line in lines if "vit_mlp_prune" not in line and "│ vit" in line)
    assert "–" in dense  # no speed-up over itself
    note = " ".join(out.split())
    assert "dense / pruned per test image, median [p10–p90]" in note and "slower = a pruning detector" in note
    # 80 columns hold the end-to-end speed-up; the backbone's comes next (before the untrained protocol median).
    assert "det_backbone_speedup, median_ms;" in note
    wider = _show(path, "dtp", columns=100)
    assert max(len(line) for line in _table_lines(wider)) <= 100 and "backbone ×" in wider
    fast = next(line for line in _table_lines(wider) if "2.00 [2.00–2.00]" in line)
    assert "3.00 [3.00–3.00]" in fast  # the backbone alone: 1.5 / 0.5 on every image


def test_speedups_are_column_choices_and_raw_in_csv(store: tuple[Path, dict]) -> None:
    path, archs = store
    md = _show(path, "dtp", "--format", "markdown", "--columns", "arch_id,det_graph_speedup,det_e2e_speedup,map_ci")
    assert md.splitlines()[0] == "| arch_id | graph × | e2e × | mAP 95% CI |"
    assert f"| {archs['fast']} | 2.00 [2.00–2.00] | 2.00 [2.00–2.00] | – |" in md
    frame = pd.read_csv(io.StringIO(_show(path, "dtp", "--format", "csv"))).set_index("arch_id")
    assert frame.loc[archs["fast"], "det_backbone_speedup_median"] == pytest.approx(3.0)
    assert frame.loc[archs["slow"], "det_e2e_speedup_p90"] == pytest.approx(0.8)
    assert bool(frame.loc[archs["slow"], "slower_than_dense"]) and frame.loc[archs["slow"], "det_images_slower"] == 3
    assert "det_graph_speedup_median" not in frame  # offered, not shown by default


def test_a_detection_sweep_without_pruning_detectors_offers_no_speedups(store: tuple[Path, dict]) -> None:
    path, _ = store
    out = _show(path, "det", columns=250)
    assert "e2e ×" not in out and "slower" not in out
    for sweep, ok in (("det", False), ("dtp", True)):
        result = CliRunner().invoke(app, ["show", sweep, "--store", str(path), "--columns", "det_e2e_speedup"])
        assert (result.exception is None) == ok
        assert ok or "unknown column 'det_e2e_speedup'" in str(result.exception)


@pytest.fixture(scope="module")
def shifted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The same detectors, the fast one timed while the machine ran 30% slower (by its canary), the slow one at the
    dense one's speed."""
    path = tmp_path_factory.mktemp("show_det_tokens_shift") / "s.sqlite"
    db = Store(path)
    archs = fill_det_vit(db, canaries={"dense": 10.0, "fast": 13.0, "slow": 10.1})
    db.close()
    return path, archs


def test_a_speedup_timed_at_different_machine_speeds_is_marked_within_80_columns(shifted: tuple[Path, dict]) -> None:
    path, archs = shifted
    out = _show(path, "dtp")
    lines = _table_lines(out)
    assert max(len(line) for line in lines) <= 80 and "e2e ×" in out
    assert any(f"2.00{SHIFT_MARK} [2.00–2.00]" in line for line in lines)  # raw figure kept, marked
    assert any("0.80 [0.80–0.80]" in line for line in lines)  # same speed: unmarked
    note = " ".join(out.split())
    assert "dense and pruned timed at different machine speeds" in note
    assert f"{archs['fast']} on cpu: canary ratio 1.300, canary-normalised e2e × 2.6" in note
    assert archs["slow"] not in note
    frame = pd.read_csv(io.StringIO(_show(path, "dtp", "--format", "csv"))).set_index("arch_id")
    assert bool(frame.loc[archs["fast"], "det_speed_differs"]) and not bool(
        frame.loc[archs["slow"], "det_speed_differs"]
    )
    assert frame.loc[archs["fast"], "det_e2e_speedup_median_canary_norm"] == pytest.approx(2.6)
    assert frame.loc[archs["slow"], "det_speed_shift"] == pytest.approx(1.01)


def test_the_unmarked_store_has_no_shift_legend(store: tuple[Path, dict]) -> None:
    path, _ = store
    assert SHIFT_MARK not in _show(path, "dtp", columns=120)
    row = {"det_e2e_speedup_median": 1.5, "det_e2e_speedup_p10": 1.2, "det_e2e_speedup_p90": 1.8}
    assert speedup_cell("e2e")({**row, "det_speed_differs": None}) == "1.50 [1.20–1.80]"
    assert speedup_cell("e2e")({**row, "det_speed_differs": True}) == f"1.50{SHIFT_MARK} [1.20–1.80]"
    assert speed_shift_note([{**row, "det_speed_differs": False}]) == ""
