"""`hwbench sweep` as a user meets it: bad input (one line, exit 2, no store), --stage and --executor."""

from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

BAD_INPUT = [
    (
        "space.yaml",
        "name: x\nmacro: macros/tiny.yaml\nblock: mbconv\nblock_params: {kernel: [3, 5\n",
        r"space.yaml: line \d+, column \d+: malformed YAML",
    ),
    (
        "space.yaml",
        "name: x\nmacro: macros/tiny.yaml\nblock: mbconv\nblok_params: {}\n",
        r"space.yaml: blok_params: unknown key \(did you mean 'block_params'\?\)",
    ),
    (
        "space.yaml",
        "name: x\nmacro: macros/tiny.yaml\nblock: mbcnv\n",
        r"space.yaml: block: unknown cnn block 'mbcnv' \(did you mean 'mbconv'\?\)",
    ),
    (
        "space.yaml",
        "name: x\nmacro: macros/tiny.yaml\nblock: mbconv\nblock_params: {kernel: {choice: [3, 4]}}\n",
        r"space.yaml: block_params.kernel: .*kernel must be odd.*got 4",
    ),
    (
        "space.yaml",
        "name: x\nmacro: macros/tiny.yaml\nblock: mbconv\nblock_params: {expansion: {choice: [two]}}\n",
        r"space.yaml: block_params.expansion: .*got 'two'",
    ),
    (
        "space.yaml",
        "name: x\nmacro: macros/nope.yaml\nblock: mbconv\n",
        r"space.yaml: macro: macro file 'macros/nope.yaml' not found",
    ),
    (
        "target.yaml",
        "runner: onnxruntime\nthreads: one\nexport: {format: onnx}\n",
        r"target.yaml: threads: .*got 'one'",
    ),
    (
        "target.yaml",
        "runner: onnxrt\nthreads: 1\nexport: {format: onnx}\n",
        r"target.yaml: runner: unknown runner 'onnxrt' \(did you mean 'onnxruntime'\?\)",
    ),
    (
        "target.yaml",
        "runner: onnxruntime\nthreads: 1\nexport: {format: onnx, opset: 9}\n",
        r"target.yaml: export.opset",
    ),
    (
        "target.yaml",
        "runner: onnxruntime\nthreads: 1\nexport: {format: torch}\n",
        r"runs 'onnx' artifacts, not 'torch'",
    ),
    (
        "target.yaml",
        "runner: onnxruntime\nthreads: 1\nexport: {format: onnx}\nrunner_options: {spin: true}\n",
        r"target.yaml: runner_options.spin: unknown key",
    ),
    (
        "target.yaml",
        "runner: onnxruntime\nthreads: 1\nexport: {format: onnx}\nmeasurement: {min_runs: 50, max_runs: 10}\n",
        r"target.yaml: measurement: .*min_runs 50 is above max_runs 10",
    ),
]


@pytest.mark.parametrize(("kind", "text", "message"), BAD_INPUT, ids=[m[:40] for _, _, m in BAD_INPUT])
def test_bad_input_one_line_exit_2(tmp_path: Path, tiny_spaces: dict, kind: str, text: str, message: str) -> None:
    import re

    base = tiny_spaces["mbconv"].parent
    store = tmp_path / "s.sqlite"
    space, target = tiny_spaces["mbconv"], ROOT / "targets" / "cpu-onnxruntime-1t.yaml"
    bad = base / kind
    bad.write_text(text)
    if kind == "space.yaml":
        space = bad
    else:
        target = bad
    out = run_cli("sweep", "--space", str(space), "--target", str(target), "--store", str(store), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not store.exists()  # validation happens before the store is opened


def test_unknown_space_name() -> None:
    out = run_cli("sweep", "--space", "mbconf", cwd=ROOT)
    assert out.returncode == 2 and "did you mean 'mbconv'" in out.stderr


def test_infeasible_constraint_exit_2(tmp_path: Path, tiny_spaces: dict) -> None:
    macro = tiny_spaces["mbconv"].parent / "macros" / "tiny.yaml"
    macro.write_text(macro.read_text().replace("macs: {min: 0, max: 5M}", "macs: {max: 1k}").replace("200", "20"))
    out = run_cli("sweep", "--space", str(tiny_spaces["mbconv"]), "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)
    assert out.returncode == 2 and "constraints: found 0 of 15 networks" in out.stderr  # default --n 15


@pytest.mark.parametrize(
    ("option", "valid"), [("--stage", "'all', 'export', 'measure', 'train'"), ("--executor", "'auto', 'local', 'ray'")]
)
def test_unknown_stage_or_executor_is_refused_by_the_cli(tmp_path: Path, option: str, valid: str) -> None:
    store = tmp_path / "s.sqlite"
    out = run_cli("sweep", option, "bogus", "--store", str(store), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines == [
        f"error: Invalid value for '{option}': 'bogus' is not one of {valid}. (see `hwbench sweep --help`)"
    ]
    assert not store.exists()


def _requests(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> tuple[list, str]:
    """The SweepRequests `hwbench sweep ARGS` hands the pipeline, and what it printed; the pipeline is not run."""
    from typer.testing import CliRunner

    import hwbench.pipeline
    from hwbench.cli import app

    seen = []

    def run_sweep(request: object, ui: object) -> dict[str, int]:
        seen.append(request)
        return {"archs": 2, "exports": 3, "measurements": 4, "trained": 5}

    monkeypatch.setattr(hwbench.pipeline, "run_sweep", run_sweep)
    monkeypatch.chdir(ROOT)  # the built-in spaces and targets, by name
    result = CliRunner().invoke(app, ["sweep", "--store", str(tmp_path / "s.sqlite"), *args])
    assert result.exit_code == 0, result.output
    return seen, result.output


DEMO_SPACES, DEMO_TARGETS = ["mbconv", "fused_mbconv"], ["cpu-onnxruntime-1t", "cpu-onnxruntime-2t"]
STAGES = [
    ("all", DEMO_SPACES, DEMO_TARGETS, "2 networks, 3 new exports, 4 new measurements, 5 trained (store"),
    ("export", DEMO_SPACES, DEMO_TARGETS, "2 networks, 3 new exports (store"),
    ("measure", [], DEMO_TARGETS, "4 new measurements (store"),
    ("train", [], [], "5 trained (store"),
]


@pytest.mark.parametrize(("stage", "spaces", "targets", "line"), STAGES, ids=[s[0] for s in STAGES])
def test_stage_default_inputs_and_summary(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stage: str, spaces: list, targets: list, line: str
) -> None:
    seen, output = _requests(monkeypatch, tmp_path, "--stage", stage, "--name", "x")
    (request,) = seen
    assert request.stage == stage and request.executor == "auto" and request.ray_address is None
    assert [p.stem for p in request.spaces] == spaces and [p.stem for p in request.targets] == targets
    assert f"sweep 'x': {line}" in output


def test_given_inputs_executor_and_ray_address_pass_through(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    args = ["--stage", "train", "--space", "convnext", "--target", "cpu-torch-1t", "--executor", "ray"]
    shared = tmp_path / "nfs" / "artifacts"
    seen, _ = _requests(monkeypatch, tmp_path, *args, "--ray-address", "ray://head:10001", "--artifacts", str(shared))
    (request,) = seen
    assert [p.stem for p in request.spaces] == ["convnext"] and [p.stem for p in request.targets] == ["cpu-torch-1t"]
    assert request.executor == "ray" and request.ray_address == "ray://head:10001"
    assert request.artifact_dir == shared and request.weights_dir == shared / "weights"
    seen, output = _requests(monkeypatch, tmp_path, "--executor", "local", "--no-train")
    assert seen[0].executor == "local" and seen[0].dataset is None
    assert "4 new measurements (store" in output and "trained" not in output
