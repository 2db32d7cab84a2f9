"""Reproducible artifacts: the demo's networks exported from two checkouts at different paths, per format.

Copies the hwbench package to two folders at different depths, then exports the same networks in each (two
processes side by side, each with its own HOME, USER, HOSTNAME, TMPDIR, working directory and hash seed) and
counts the artifacts whose bytes are identical, and those whose canonical content is (hwbench.export.canonical).

    python benchmarks/reproducibility.py            # one network per demo space + MobileNetV2, every format
    python benchmarks/reproducibility.py --quick    # smoke run: one network, ONNX and .pt2 only
    python benchmarks/reproducibility.py --demo     # the demo sweep (latency only) from each checkout, back to
                                                    # back, then `hwbench compare-sweeps` (2 x 20 networks x 3 targets)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, sample_specs, save, table


def available() -> list[tuple[str, str]]:
    """Every registered export format and precision whose converters are installed here."""
    from hwbench.export import exporter_names, get_exporter
    from hwbench.measure.provenance import versions

    return [
        (name, precision)
        for name in exporter_names()
        for precision in get_exporter(name).precisions
        if all(versions(get_exporter(name).distributions).values())
    ]


def jobs_for(specs: list[tuple[str, Any]], formats: list[tuple[str, str]], artifacts: Path) -> list[dict[str, Any]]:
    """One export job per (network, format), options as the built-in targets set them."""
    from hwbench.export import get_exporter

    jobs = []
    for fmt, precision in formats:
        options = get_exporter(fmt).options().model_dump() if precision == "fp32" else {}  # int8: default recipe
        for label, spec in specs:
            jobs.append(
                {
                    "label": f"{fmt}-{precision}|{label}",
                    "spec_json": spec.canonical_json,
                    "format": fmt,
                    "precision": precision,
                    "options": options,
                    "artifact_dir": str(artifacts),
                }
            )
    return jobs


def start(checkout: Path, work: Path, tag: str, jobs: list[dict[str, Any]]) -> subprocess.Popen:
    """Export the jobs from `checkout` as another user on another host would."""
    (work / "home").mkdir(parents=True)
    (work / "jobs.json").write_text(json.dumps(jobs))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(checkout),
        "HOME": str(work / "home"),
        "USER": f"user-{tag}",
        "LOGNAME": f"user-{tag}",
        "HOSTNAME": f"host-{tag}",
        "TMPDIR": str(work),
        "PYTHONHASHSEED": str(len(tag)),
    }
    cmd = [sys.executable, "-m", "hwbench.export.batch", str(work / "jobs.json")]
    return subprocess.Popen(cmd, cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def collect(proc: subprocess.Popen) -> dict[str, dict[str, Any]]:
    """The child's per-job summaries, by label."""
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"export child failed: {err[-2000:]}")
    return {r["label"]: r for r in (json.loads(x) for x in out.splitlines() if x.startswith('{"label"'))}


def main() -> None:
    """Export from two checkouts and count identical artifacts per format."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-space", type=int, default=1, help="networks per demo design space")
    parser.add_argument("--quick", action="store_true", help="smoke run: one network, ONNX and .pt2")
    parser.add_argument("--demo", action="store_true", help="two demo sweeps from two checkouts, then compare")
    parser.add_argument("--sweep-args", default="", help='with --demo: extra sweep options, e.g. "--n 1" (smoke)')
    args = parser.parse_args()
    if args.demo:
        demo_sweeps(shlex.split(args.sweep_args))
        return
    specs = sample_specs(args.per_space)
    formats = available()
    if args.quick:
        specs, formats = specs[:1], [f for f in formats if f[0] != "tflite"]
    base = Path(tempfile.mkdtemp(prefix="hwbench-repro-"))
    try:
        checkouts = [base / "a", base / "elsewhere" / "deeper" / "second-clone"]
        procs = []
        start_time = time.perf_counter()
        for checkout, tag in zip(checkouts, ("a", "bb")):
            shutil.copytree(ROOT / "hwbench", checkout / "hwbench", ignore=shutil.ignore_patterns("__pycache__"))
            work = base / f"work-{tag}"
            procs.append(start(checkout, work, tag, jobs_for(specs, formats, work / "artifacts")))
        first, second = (collect(p) for p in procs)
        seconds = time.perf_counter() - start_time
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rows = []
    for fmt, precision in formats:
        name = f"{fmt}-{precision}"
        labels = [label for label in first if label.startswith(name + "|")]
        ok = [la for la in labels if first[la]["status"] == "ok" and second.get(la, {}).get("status") == "ok"]
        rows.append(
            {
                "format": name,
                "networks": len(labels),
                "exported_both": len(ok),
                "identical_bytes": sum(first[la]["artifact_hash"] == second[la]["artifact_hash"] for la in ok),
                "same_content": sum(first[la]["content_hash"] == second[la]["content_hash"] for la in ok),
                "metadata_dropped": sum(first[la].get("debug_metadata_dropped") or 0 for la in ok),
                "errors": [first[la]["error"] or second.get(la, {}).get("error") for la in labels if la not in ok],
            }
        )
    total = {k: sum(r[k] for r in rows) for k in ("networks", "exported_both", "identical_bytes", "same_content")}
    text = table(rows, ["format", "networks", "exported_both", "identical_bytes", "same_content", "metadata_dropped"])
    text += (
        f"\n\nidentical artifacts across the two checkouts: {total['identical_bytes']}/{total['exported_both']} "
        f"({len(specs)} networks x {len(formats)} formats; both checkouts exported in {seconds:.0f} s)\n"
        "metadata_dropped: debugging entries (stack traces with absolute paths, FX node text, class hierarchies)"
        " removed from checkout A's artifacts before hashing"
    )
    for r in rows:
        text += "".join(f"\n{r['format']} failed: {str(e)[:200]}" for e in r["errors"])
    save("reproducibility", text, {"rows": rows, "total": total, "seconds": seconds, "quick": args.quick})


def demo_sweeps(extra: list[str]) -> None:
    """`hwbench sweep --no-train --no-report` (the demo's networks and targets) from two checkouts at different
    paths, one after the other, then `hwbench compare-sweeps` between their stores."""
    base = Path(tempfile.mkdtemp(prefix="hwbench-repro-demo-"))
    try:
        roots = [base / "a", base / "elsewhere" / "deeper" / "second-clone"]
        seconds = []
        for root, tag in zip(roots, ("a", "bb")):
            for folder in ("hwbench", "design_spaces", "targets"):
                shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
            (root / "home").mkdir()
            env = {**os.environ, "PYTHONPATH": str(root), "HOME": str(root / "home"), "USER": f"user-{tag}"}
            start_time = time.perf_counter()
            cmd = [sys.executable, "-m", "hwbench", "sweep", "--no-train", "--no-report", *extra]
            subprocess.run(cmd, cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
            seconds.append(time.perf_counter() - start_time)
        out = base / "compare.json"
        stores = [
            "--store",
            str(roots[0] / "results/hwbench.sqlite"),
            "--store-b",
            str(roots[1] / "results/hwbench.sqlite"),
        ]
        cmd = [
            sys.executable,
            "-m",
            "hwbench",
            "compare-sweeps",
            "demo",
            "demo",
            *stores,
            "--summary-only",
            "--json",
            str(out),
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160"}
        shown = subprocess.run(cmd, cwd=base, env=env, check=True, capture_output=True, text=True).stdout
        doc = json.loads(out.read_text())
    finally:
        shutil.rmtree(base, ignore_errors=True)
    text = (
        shown.rsplit("→", 1)[0].rstrip() + f"\n\nsweeps took {seconds[0]:.0f} s and {seconds[1]:.0f} s (latency only)"
    )
    save(
        "reproducibility_demo", text, {"summary": doc["summary"], "setup": doc["setup_differences"], "seconds": seconds}
    )


if __name__ == "__main__":
    main()
