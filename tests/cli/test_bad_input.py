"""Every bad input exits 2 with one line per fault and leaves an existing store byte-identical (issue 11 §3)."""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import FAST_MEASUREMENT, TINY_MACRO, TINY_SPACE, run_cli


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with tiny spaces, a fast target and a store holding one finished sweep 's' (seed 0)."""
    base = tmp_path_factory.mktemp("bad")
    (base / "design_spaces" / "macros").mkdir(parents=True)
    (base / "design_spaces" / "macros" / "tiny.yaml").write_text(TINY_MACRO)
    (base / "design_spaces" / "tiny_mbconv.yaml").write_text(TINY_SPACE.format(name="tiny_mbconv", block="mbconv"))
    (base / "targets").mkdir()
    (base / "targets" / "t.yaml").write_text(
        "name: t\nrunner: onnxruntime\nthreads: 1\nexport: {format: onnx, opset: 18}\n" + FAST_MEASUREMENT
    )
    out = run_cli(*_sweep(base), "--n", "1", cwd=base)
    assert out.returncode == 0, out.stderr
    return base


def _sweep(base: Path, *extra: str, space: str = "design_spaces/tiny_mbconv.yaml") -> list[str]:
    return ["sweep", "--space", space, "--target", "targets/t.yaml", "--name", "s", "--store", "s.sqlite",
            "--no-train", "--no-report", *extra]  # fmt: skip


def _state(store: Path) -> tuple[str, dict[str, int]]:
    """The store file's hash and the row count of every table."""
    digest = hashlib.sha256(store.read_bytes()).hexdigest()
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    db.close()
    return digest, counts


SPACE_FAULTS = """\
name: bad
macro: macros/tiny.yaml
block: mbcnv
blok_params: {}
description: [not, a, string]
"""
TARGET_FAULTS = """\
runner: onnxrt
threads: one
exprt: {format: onnx}
"""
INLINE = "name: tiny_mbconv\nblock: mbconv\nmacro:\n" + "".join(f"  {line}\n" for line in TINY_MACRO.splitlines())
INLINE_INFEASIBLE = INLINE.replace("macs: {min: 0, max: 5M}", "macs: {max: 1k}").replace(
    "max_attempts: 200", "max_attempts: 20"
)
CHANGED_SPACE = TINY_SPACE.format(name="tiny_mbconv", block="mbconv") + "block_params: {kernel: 7}\n"

CASES = {
    "negative seed": ([], None, [r"--seed: must be an integer from 0"]),
    "n zero": (["--n", "0"], None, [r"Invalid value for '--n'"]),
    "other seed, same name": (["--seed", "3"], None, [r"sweep 's' already exists with seed 0"]),
    "unknown space": ([], "nope", [r"nope: --space: .*unknown design space 'nope'"]),
    "every fault of a space file": (
        [],
        SPACE_FAULTS,
        [
            r"bad.yaml: blok_params: unknown key \(did you mean 'block_params'\?\)",
            r"bad.yaml: description: .*got \['not', 'a', 'string'\]",
            r"bad.yaml: block: unknown cnn block 'mbcnv' \(did you mean 'mbconv'\?\)",
        ],
    ),
    "every fault of a target file": (
        [],
        None,
        [
            r"t2.yaml: threads: .*got 'one'",
            r"t2.yaml: export: required key is missing",
            r"t2.yaml: exprt: unknown key \(did you mean 'export'\?\)",
            r"t2.yaml: runner: unknown runner 'onnxrt' \(did you mean 'onnxruntime'\?\)",
        ],
    ),
    "infeasible window (inline macro)": (
        ["--n", "2"],
        INLINE_INFEASIBLE,
        [r"bad.yaml: constraints: found 0 of 2 networks"],
    ),
    "space changed under the sweep's name": ([], CHANGED_SPACE, [r"space 'tiny_mbconv' changed since sweep 's'"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_one_line_per_fault_store_untouched(made: Path, tmp_path: Path, case: str) -> None:
    extra, space_text, expected = CASES[case]
    work = tmp_path / "w"
    shutil.copytree(made, work)
    store = work / "s.sqlite"
    before = _state(store)
    space = "design_spaces/tiny_mbconv.yaml"
    args = _sweep(work, *extra, "--seed", "-5") if case == "negative seed" else _sweep(work, *extra)
    if space_text == "nope":
        space = "nope"
    elif space_text is not None:
        (work / "design_spaces" / "bad.yaml").write_text(space_text)
        space = "design_spaces/bad.yaml"
    if case == "every fault of a target file":
        (work / "targets" / "t2.yaml").write_text(TARGET_FAULTS)
        args[args.index("targets/t.yaml")] = "targets/t2.yaml"
    args[args.index("design_spaces/tiny_mbconv.yaml")] = space
    out = run_cli(*args, cwd=work)
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if not line.startswith("sampling ")]  # progress bar
    assert "Traceback" not in out.stderr and len(lines) == len(expected), out.stderr
    assert all(line.startswith("error: ") for line in lines), lines
    for pattern in expected:
        assert any(re.search(pattern, line) for line in lines), (pattern, lines)
    assert _state(store) == before  # byte-identical file, same rows


def test_fresh_store_is_not_created_by_bad_input(made: Path, tmp_path: Path) -> None:
    out = run_cli(*_sweep(made, "--seed", "-5", "--store", str(tmp_path / "new.sqlite")), cwd=made)
    assert out.returncode == 2 and not (tmp_path / "new.sqlite").exists()


def test_inline_macro_works_like_a_macro_file(made: Path, tmp_path: Path) -> None:
    """A space may carry its macro inline (a mapping under `macro:`): same architectures as the file form."""
    from hwbench.space.design_space import load_space
    from hwbench.space.sampling import sample_space

    inline = tmp_path / "inline.yaml"
    inline.write_text(INLINE)
    by_file, by_inline = load_space(made / "design_spaces" / "tiny_mbconv.yaml"), load_space(inline)
    assert by_inline.macro == by_file.macro
    assert [s.spec.arch_id for s in sample_space(by_inline, 3, 0)] == [
        s.spec.arch_id for s in sample_space(by_file, 3, 0)
    ]


def test_macro_key_at_top_level_says_where_it_belongs(tmp_path: Path) -> None:
    from hwbench.errors import ConfigError
    from hwbench.space.design_space import load_space

    path = tmp_path / "flat.yaml"
    path.write_text("name: flat\nblock: mbconv\nresolution: 32\nstages: {count: 2, depth: 1, width: 8, stride: 2}\n")
    with pytest.raises(ConfigError) as info:
        load_space(path)
    text = str(info.value)
    assert "flat.yaml: macro: required key is missing" in text
    assert re.search(r"flat.yaml: resolution: 'resolution' is a macro key: put it under `macro:`", text)
    assert "flat.yaml: stages: 'stages' is a macro key" in text


def test_space_by_fixed_short_name_and_directory(made: Path) -> None:
    from hwbench.space.locate import space_paths

    assert space_paths("mobilenet_v2")[0].as_posix().endswith("design_spaces/fixed/mobilenet_v2.yaml")
    assert space_paths("fixed/deit_tiny")[0].name == "deit_tiny.yaml"
    found = {p.name for p in space_paths(made / "design_spaces")}
    assert found == {"tiny_mbconv.yaml"}  # macros/ excluded
    import hwbench as hb

    assert hb.load_space("mobilenet_v2").fixed is not None  # the Python API resolves the same names


def test_sweep_targets_records_each_target_and_its_file(made: Path) -> None:
    import json

    from hwbench.store import Store

    rows = Store(made / "s.sqlite", create=False).sweep_targets("s")
    assert [(r["target"], r["target_file"]) for r in rows] == [("t", "targets/t.yaml")]
    config = json.loads(rows[0]["config_json"])
    assert config["runner"] == "onnxruntime" and config["threads"] == 1 and config["export_format"] == "onnx"


def test_version() -> None:
    from hwbench import __version__

    out = run_cli("--version", cwd=Path.cwd())
    assert out.returncode == 0 and out.stdout.strip() == f"hwbench {__version__}"


def test_batch_larger_than_the_dataset_stops_before_the_store(made: Path, tmp_path: Path) -> None:
    """Found while running the README: this surfaced only after exports and measurements were stored."""
    from tests.accuracy.layouts import write_cifar

    work = tmp_path / "w"
    shutil.copytree(made, work)
    folder = write_cifar(work / "data")  # 40 training images
    (work / "big.yaml").write_text("epochs: 1\nbatch_size: 64\nresolution: 16\n")
    before = _state(work / "s.sqlite")
    args = [a for a in _sweep(work) if a != "--no-train"]
    out = run_cli(*args, "--dataset", f"cifar10:{folder}", "--schedule", "big.yaml", cwd=work)
    assert out.returncode == 2, out.stderr
    assert re.search(r"big.yaml: batch_size: 64 is more than the 40 training images of cifar10:", out.stderr)
    assert _state(work / "s.sqlite") == before
