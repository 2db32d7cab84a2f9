"""Edge TPU compilation: profile checks, a missing compiler as a recorded error, and the compiled artifact's
path through inspection and the runner. Coral's edgetpu_compiler cannot be installed here, so one test puts a
stand-in on PATH that writes what the compiler writes (the model plus an Edge TPU operator name and its log)."""

import os
import stat
import sys
from pathlib import Path

import pytest

from hwbench.export import ProfileError
from hwbench.export.edgetpu import COMPILER, parse_log
from hwbench.export.tflite import TfliteOptions, profile_options
from hwbench.runners.delegates import DelegateError, is_compiled
from hwbench.runners.tflite import TfliteOptions as RunOptions
from hwbench.runners.tflite import TfliteSession
from tests.export.test_tflite import export, path_of

pytestmark = pytest.mark.export

STAND_IN = f"""#!{sys.executable}
import sys, pathlib
if sys.argv[1] == "--version":
    print("Edgetpu Compiler version 16.0.384591198 (stand-in)"); sys.exit(0)
out, src = pathlib.Path(sys.argv[3]), pathlib.Path(sys.argv[4])
(out / (src.stem + "_edgetpu.tflite")).write_bytes(src.read_bytes() + b"edgetpu-custom-op")
print("Number of operations that will run on Edge TPU: 7")
print("Number of operations that will run on CPU: 2")
"""


def test_profile_takes_edgetpu_compile_for_full_int8_only() -> None:
    # The error names its key when the target file is loaded (ProfileError carries it).

    canonical = profile_options("int8", TfliteOptions(edgetpu_compile=True))
    assert canonical["edgetpu_compile"] is True and canonical["recipe"] == "full_int8"
    assert "edgetpu_compile" not in profile_options("int8", TfliteOptions())  # old export keys unchanged
    with pytest.raises(ProfileError, match="full_int8 models only, not 'mixed_int8'"):
        profile_options("int8", TfliteOptions(recipe="mixed_int8", edgetpu_compile=True))
    with pytest.raises(ProfileError, match="applies to precision int8 only"):
        profile_options("fp32", TfliteOptions(edgetpu_compile=True))


def test_parse_log() -> None:
    log = "Number of operations that will run on Edge TPU: 61\nNumber of operations that will run on CPU: 3\n"
    assert parse_log(log) == {"ops_on_edgetpu": 61, "ops_on_cpu": 3}
    assert parse_log("garbage") == {"ops_on_edgetpu": None, "ops_on_cpu": None}


def test_missing_compiler_is_a_recorded_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = export(tmp_path, "mbconv", "int8", {"edgetpu_compile": True})
    assert result["status"] == "error" and f"{COMPILER} not found on PATH" in result["error"]


def test_compiled_artifact_is_inspected_and_needs_the_delegate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / COMPILER
    exe.write_text(STAND_IN)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = export(tmp_path / "store", "mbconv", "int8", {"edgetpu_compile": True})
    assert result["status"] == "ok", result.get("error")
    facts = result["info_json"]
    assert facts["edgetpu"]["ops_on_edgetpu"] == 7 and facts["edgetpu"]["ops_on_cpu"] == 2
    assert "stand-in" in facts["edgetpu"]["compiler_version"]
    assert result["parity_ok"] is None and "Edge TPU" in facts["parity"]["note"]
    path = path_of(tmp_path / "store", result)
    assert is_compiled(path)
    # Measuring it asks for the delegate; this machine has no Edge TPU runtime, so that fails clearly.
    with pytest.raises(DelegateError, match="libedgetpu"):
        TfliteSession(path, 1, RunOptions(delegate="edgetpu"))


def test_delegate_refuses_an_uncompiled_artifact(tmp_path: Path) -> None:
    result = export(tmp_path, "mbconv", "int8", {})
    assert result["status"] == "ok", result.get("error")
    with pytest.raises(ValueError, match="not compiled for the Edge TPU"):
        TfliteSession(path_of(tmp_path, result), 1, RunOptions(delegate="edgetpu"))
