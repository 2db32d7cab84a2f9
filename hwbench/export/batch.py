"""Export a list of jobs in this process, without a store: `python -m hwbench.export.batch JOBS.json`.

Prints one JSON line per job: status, artifact hash, canonical content hash and where hwbench was imported
from. Used to check that two checkouts (or two machines) export the same bytes (tests/export, and
benchmarks/reproducibility.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def export_all(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run each export job (hwbench.export.job) in turn; one summary per job, errors included."""
    import hwbench
    from hwbench.export import get_exporter
    from hwbench.export.artifacts import ArtifactStore
    from hwbench.export.canonical import content_hash
    from hwbench.export.job import run_export

    out = []
    for job in jobs:
        result = run_export(job)
        summary = {
            "label": job.get("label"),
            "status": result["status"],
            "error": result.get("error"),
            "artifact_hash": result.get("artifact_hash"),
            "content_hash": None,
            "debug_metadata_dropped": result.get("info_json", {}).get("debug_metadata_dropped"),
            "hwbench": str(Path(hwbench.__file__).parent),
        }
        if result["status"] == "ok":
            extension = get_exporter(job["format"]).extension
            path = ArtifactStore(job["artifact_dir"]).path(result["artifact_hash"], extension)
            summary["content_hash"] = content_hash(path)
        out.append(summary)
    return out


def main(argv: list[str] | None = None) -> int:
    """Read the jobs file named on the command line and print the summaries as JSON lines."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m hwbench.export.batch JOBS.json", file=sys.stderr)
        return 2
    jobs = json.loads(Path(args[0]).read_text())
    for summary in export_all(jobs):
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
