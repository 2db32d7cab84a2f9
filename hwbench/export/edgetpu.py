"""Compile a full-integer .tflite for the Coral Edge TPU with Coral's `edgetpu_compiler` (x86-64 Linux only).

The compiler moves the longest run of supported operators from the start of the graph into one
`edgetpu-custom-op`; everything after the first unsupported operator stays on the CPU. Its log says how
many operators went where, which is what decides whether the Edge TPU helps a given block.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

# The runner checks the same thing before loading the delegate; it lives on the measuring side (stdlib only).
from hwbench.runners.delegates import is_compiled

COMPILER = "edgetpu_compiler"
MISSING = (
    f"{COMPILER} not found on PATH: it is Coral's x86-64 Linux package `edgetpu-compiler` "
    "(https://coral.ai/docs/edgetpu/compiler/); install it on the machine that exports, or drop `edgetpu_compile`"
)
TIMEOUT_S = 600


def compile_edgetpu(path: str, compiler: str | None = None) -> dict[str, Any]:
    """Compile `path` in place; return the compiler's version and where the operators went."""
    exe = compiler or shutil.which(COMPILER)
    if exe is None:
        raise RuntimeError(MISSING)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        # -s prints the per-operator summary parsed below; -o keeps the compiler's files out of the store.
        done = subprocess.run(
            [exe, "-s", "-o", out, path], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
        log = (done.stdout or "") + (done.stderr or "")
        compiled = Path(out) / f"{Path(path).stem}_edgetpu.tflite"
        if done.returncode != 0 or not compiled.is_file():
            raise RuntimeError(f"{COMPILER} failed (exit {done.returncode}): {log.strip()[-800:]}")
        shutil.copyfile(compiled, path)
    facts = {"compiler_version": _version(exe), "compile_seconds": time.perf_counter() - start}
    facts.update(parse_log(log))
    if not is_compiled(path):
        facts["warning"] = "no operator was mapped to the Edge TPU: the whole model runs on the CPU"
    return facts


def parse_log(log: str) -> dict[str, Any]:
    """Operator counts on the Edge TPU and on the CPU, from the compiler's summary."""
    facts: dict[str, Any] = {}
    for key, pattern in (("ops_on_edgetpu", r"run on Edge TPU:\s*(\d+)"), ("ops_on_cpu", r"run on CPU:\s*(\d+)")):
        found = re.search(pattern, log)
        facts[key] = int(found.group(1)) if found else None
    return facts


def _version(exe: str) -> str | None:
    try:
        done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return None
    return (done.stdout or done.stderr).strip().splitlines()[-1] if (done.stdout or done.stderr).strip() else None
