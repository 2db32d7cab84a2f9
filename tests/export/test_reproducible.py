"""The same network exports to the same bytes from two checkouts at different paths, users, homes and hosts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hwbench.export import exporter_names, get_exporter
from hwbench.measure.provenance import versions
from tests.conftest import ROOT
from tests.export.test_exporters import tiny_spec

pytestmark = [pytest.mark.export, pytest.mark.slow]


def _formats() -> list[tuple[str, str]]:
    """Every registered export format and precision whose converters are installed (formats added later too)."""
    return [
        (name, precision)
        for name in exporter_names()
        for precision in get_exporter(name).precisions
        if all(versions(get_exporter(name).distributions).values())
    ]


def _options(fmt: str, precision: str) -> dict:
    """The format's default options; calibrated exports read few samples (identity, not quality, is checked)."""
    fields = get_exporter(fmt).options.model_fields
    if precision == "fp32":
        return get_exporter(fmt).options().model_dump()
    return {k: 4 for k in ("calibration_samples", "fidelity_samples") if k in fields}


def _checkout(base: Path, depth: str) -> Path:
    """A copy of the hwbench package at `base/depth` (a second checkout at another path)."""
    root = base / depth
    shutil.copytree(ROOT / "hwbench", root / "hwbench", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _start(root: Path, work: Path, tag: str) -> subprocess.Popen:
    jobs = []
    for fmt, precision in _formats():
        jobs.append(
            {
                "label": f"{fmt}-{precision}",
                "spec_json": tiny_spec("mbconv").canonical_json,
                "format": fmt,
                "precision": precision,
                "options": _options(fmt, precision),
                "artifact_dir": str(work / "artifacts"),
            }
        )
    work.mkdir(parents=True)
    (work / "jobs.json").write_text(json.dumps(jobs))
    (work / "home").mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(root),
        "HOME": str(work / "home"),
        "USER": f"user-{tag}",
        "LOGNAME": f"user-{tag}",
        "HOSTNAME": f"host-{tag}",
        "TMPDIR": str(work),
        "PYTHONHASHSEED": str(len(tag)),
    }
    cmd = [sys.executable, "-m", "hwbench.export.batch", str(work / "jobs.json")]
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _results(proc: subprocess.Popen) -> dict[str, dict]:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    lines = [json.loads(line) for line in out.splitlines() if line.startswith('{"label"')]
    return {r["label"]: r for r in lines}


def test_two_checkouts_export_identical_bytes(tmp_path: Path) -> None:
    roots = [_checkout(tmp_path, "a"), _checkout(tmp_path, "somewhere/much/deeper/clone-b")]
    procs = [_start(root, tmp_path / f"work-{tag}", tag) for root, tag in zip(roots, ("a", "bb"))]
    first, second = (_results(p) for p in procs)
    assert set(first) == set(second) == {f"{f}-{p}" for f, p in _formats()}
    for label, a in first.items():
        b = second[label]
        assert a["status"] == b["status"] == "ok", (label, a["error"], b["error"])
        # Each child really imported its own copy (not the checkout the tests run from).
        assert Path(a["hwbench"]) == roots[0] / "hwbench" and Path(b["hwbench"]) == roots[1] / "hwbench"
        assert a["artifact_hash"] == b["artifact_hash"], label
        assert a["content_hash"] == b["content_hash"], label
    # No artifact carries the path of the checkout, home or working folder that exported it.
    for work in (tmp_path / "work-a", tmp_path / "work-bb"):
        for path in (work / "artifacts").rglob("*.*"):
            data = path.read_bytes()
            assert str(tmp_path).encode() not in data, path.name
            assert str(ROOT).encode() not in data, path.name
