"""Run every benchmark in turn (one command: `make bench`). Run it on an otherwise idle machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "timing_overhead.py",
    "adaptive_stop.py",
    "export_bench.py",
    "reproducibility.py",
    "backends.py",
    "backends.py --demo",
    "agent_overhead.py",
    "agent_abuse.py --before ca2f36d",
    "report_scale.py",
    "trainer.py",
    "token_reduction.py",
    "ray_executor.py",
    "detection.py",
    "modelled_accelerators.py",
]

if __name__ == "__main__":
    chosen = sys.argv[1:] or BENCHMARKS
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        script, *args = name.split()
        subprocess.run([sys.executable, str(HERE / script), *args], check=True, cwd=HERE)
