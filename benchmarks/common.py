"""Helpers shared by the benchmarks: export a sample network, print and save a result table."""

from __future__ import annotations

import json
import platform
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = Path(__file__).resolve().parent / "results"


def export_onnx(spec: Any, exporter: str = "dynamo") -> tuple[str, float]:
    """Export a spec to ONNX in a temp dir; return (path, export seconds)."""
    from hwbench.export.job import run_export

    out = Path(tempfile.mkdtemp(prefix="hwbench-bench-"))
    result = run_export(
        {
            "spec_json": spec.canonical_json,
            "format": "onnx",
            "precision": "fp32",
            "options": {"opset": 18, "exporter": exporter},
            "artifact_dir": str(out),
        }
    )
    if result["status"] != "ok":
        raise RuntimeError(result["error"])
    return str(out / result["artifact_hash"][:2] / f"{result['artifact_hash']}.onnx"), result["export_seconds"]


def sample_specs(per_space: int = 1, seed: int = 0) -> list[tuple[str, Any]]:
    """One (or more) network per default CNN block space, plus MobileNetV2."""
    from hwbench.space.design_space import load_space
    from hwbench.space.sampling import sample_space

    specs = []
    for name in ("mbconv", "mbconv_se", "fused_mbconv", "resnet_bottleneck", "convnext"):
        for s in sample_space(load_space(ROOT / "design_spaces" / f"{name}.yaml"), per_space, seed):
            specs.append((f"{name}#{s.index}", s.spec))
    specs.append(("mobilenet_v2", load_space(ROOT / "design_spaces" / "fixed" / "mobilenet_v2.yaml").fixed))
    return specs


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain-text table."""
    cells = [[c, *(_fmt(r.get(c)) for r in rows)] for c in columns]
    widths = [max(len(x) for x in col) for col in cells]
    lines = []
    for i in range(len(rows) + 1):
        lines.append("  ".join(col[i].rjust(w) if i else col[i].ljust(w) for col, w in zip(cells, widths)))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def save(name: str, text: str, data: Any) -> None:
    """Print the result and keep it (text + JSON) under benchmarks/results/."""
    from hwbench.measure.provenance import cpu_model, git_commit

    header = (
        f"# {name}\n# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu_model()}, "
        f"{platform.python_version()}, commit {git_commit()}\n"
    )
    print(header + text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.txt").write_text(header + text + "\n")
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1, default=str))
