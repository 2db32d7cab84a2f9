"""Run every benchmark in turn (one command: `make bench`). Run it on an otherwise idle machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["timing_overhead.py", "adaptive_stop.py", "export_bench.py", "agent_overhead.py", "token_reduction.py"]

if __name__ == "__main__":
    chosen = sys.argv[1:] or BENCHMARKS
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        subprocess.run([sys.executable, str(HERE / name)], check=True, cwd=HERE)
