"""Runtimes side by side: onnxruntime fp32, TFLite fp32 / full int8 / mixed int8 (LiteRT + XNNPACK), OpenVINO f32.

For sample networks of every default CNN space at 224 px (plus MobileNetV2): conversion seconds (ONNX,
litert-torch fp32, each int8 recipe), the int8 fidelity against PyTorch, XNNPACK fallbacks, and the median
latency at 1 thread of every backend, measured in interleaved rounds (backend order rotated per round)
with hwbench's own timing loop. `--demo` instead times the TFLite conversions of the demo sweep
(20 networks, fp32 + full int8) through the sweep's export stage with its worker pool.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import sample_specs, save, table

ROUNDS = 3
PER_SPACE = 2
BACKENDS = {  # label -> (runner, artifact, runner options)
    "ort": ("onnxruntime", "onnx", {}),
    "tfl_fp32": ("tflite", "fp32", {}),
    "tfl_int8": ("tflite", "full_int8", {}),
    "tfl_mixed": ("tflite", "mixed_int8", {}),
    "openvino": ("openvino", "onnx", {"inference_precision": "f32"}),
}


def export_all(spec: Any, root: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """ONNX, fp32 .tflite and both int8 recipes of one network; returns paths and conversion facts."""
    from hwbench.export.artifacts import ArtifactStore
    from hwbench.export.job import run_export

    store = ArtifactStore(root)
    paths, facts = {}, {}

    def run(fmt: str, precision: str, options: dict, context: dict | None = None) -> dict:
        job = {"spec_json": spec.canonical_json, "format": fmt, "precision": precision, "options": options}
        result = run_export({**job, "artifact_dir": str(root), "context": context or {}})
        if result["status"] != "ok":
            raise RuntimeError(f"{fmt} {precision} {options}: {result['error']}")
        return result

    onnx = run("onnx", "fp32", {"opset": 18, "exporter": "dynamo"})
    paths["onnx"] = str(store.path(onnx["artifact_hash"], ".onnx"))
    facts["onnx_s"] = onnx["export_seconds"]
    fp32 = run("tflite", "fp32", {})
    paths["fp32"] = str(store.path(fp32["artifact_hash"], ".tflite"))
    facts["litert_s"] = fp32["info_json"]["convert_seconds"]
    for recipe in ("full_int8", "mixed_int8"):
        options = {"recipe": recipe, "calibration_samples": 32, "fidelity_samples": 32}
        q = run("tflite", "int8", options, {"base_path": paths["fp32"]})
        paths[recipe] = str(store.path(q["artifact_hash"], ".tflite"))
        short = "full" if recipe == "full_int8" else "mixed"
        facts[f"{short}_q_s"] = q["info_json"]["quantize_seconds"]
        facts[f"{short}_top1"] = q["info_json"]["parity"]["int8_top1_agreement"]
        facts[f"{short}_cos"] = q["info_json"]["parity"]["int8_cosine"]
        fallback = q["info_json"]["delegation"]["fallback"]
        facts[f"{short}_fallback"] = sum(fallback.values())
    return paths, facts


def measure(paths: dict[str, str]) -> dict[str, float]:
    """Median latency per backend: the median over ROUNDS interleaved rounds of hwbench's adaptive loop."""
    from hwbench.config.target import MeasurementSettings
    from hwbench.runners.local import measure_artifact

    protocol = {**MeasurementSettings().protocol().as_dict(), "max_seconds": 8.0}
    medians: dict[str, list[float]] = {label: [] for label in BACKENDS}
    labels = list(BACKENDS)
    for r in range(ROUNDS):
        for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
            runner, artifact, options = BACKENDS[label]
            job = {"runner": runner, "path": paths[artifact], "threads": 1, "options": options, "protocol": protocol}
            result = measure_artifact(job)
            if result["status"] != "ok":
                raise RuntimeError(f"{label}: {result['error']}")
            medians[label].append(result["median_ms"])
    return {label: statistics.median(values) for label, values in medians.items()}


def backends() -> None:
    """The side-by-side table."""
    root = Path(tempfile.mkdtemp(prefix="hwbench-backends-"))
    rows = []
    for label, spec in sample_specs(per_space=PER_SPACE):
        paths, facts = export_all(spec, root)
        ms = measure(paths)
        row = {"model": label, **{f"{k}_ms": v for k, v in ms.items()}, **facts}
        for k in ("tfl_fp32", "tfl_int8", "tfl_mixed", "openvino"):
            row[f"{k}/ort"] = ms[k] / ms["ort"]
        rows.append(row)
        print(table([row], list(row)), flush=True)
    latency = ["model", "ort_ms", "tfl_fp32_ms", "tfl_int8_ms", "tfl_mixed_ms", "openvino_ms"]
    ratios = ["model", "tfl_fp32/ort", "tfl_int8/ort", "tfl_mixed/ort", "openvino/ort"]
    conversion = ["model", "onnx_s", "litert_s", "full_q_s", "mixed_q_s"]
    fidelity = ["model", "full_top1", "full_cos", "full_fallback", "mixed_top1", "mixed_cos", "mixed_fallback"]
    blocks = sorted({r["model"].split("#")[0] for r in rows}, key=[r["model"].split("#")[0] for r in rows].index)
    per_block = []
    for block in blocks:
        mine = [r for r in rows if r["model"].split("#")[0] == block]
        per_block.append({"block": block, **{c: statistics.median(r[c] for r in mine) for c in latency[1:]}})
    overall = {c: statistics.median(r[c] for r in rows) for c in ratios[1:]}
    text = "\n\n".join(
        [
            "median latency per block, ms (1 thread; median of the block's networks):\n"
            + table(per_block, ["block", *latency[1:]]),
            "median latency per network, ms:\n" + table(rows, latency),
            "ratio to onnxruntime (lower is faster):\n" + table(rows, ratios),
            "median ratios over all networks: " + ", ".join(f"{k} {v:.2f}" for k, v in overall.items()),
            "conversion seconds (onnx: dynamo export; litert: litert-torch fp32; *_q: int8 recipe incl. calibration"
            " on 32 synthetic inputs):\n" + table(rows, conversion),
            "int8 vs PyTorch on 32 held-out synthetic inputs (top-1 agreement, mean cosine) and ops left to the"
            " builtin kernels:\n" + table(rows, fidelity),
            f"load average at the end: {os.getloadavg()[0]:.2f} (1 min); {ROUNDS} interleaved rounds per network",
        ]
    )
    save("backends", text, {"rows": rows, "per_block": per_block, "overall": overall})


def demo_conversion() -> None:
    """Wall time of the demo sweep's TFLite exports (fp32 + full int8, 20 networks) in the export stage."""
    from hwbench.cli.sweep import DEFAULT_SPACES
    from hwbench.paths import resolve
    from hwbench.pipeline import SweepRequest, run_sweep
    from hwbench.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="hwbench-demo-conv-"))
    targets = [resolve(t, "targets", "--target") for t in ("cpu-tflite-fp32-1t", "cpu-tflite-int8-1t")]
    request = SweepRequest(
        name="demo",
        spaces=[resolve(s, "design_spaces", "--space") for s in DEFAULT_SPACES],
        targets=targets,
        store=tmp / "s.sqlite",
        stage="export",  # sampling (well under a second) and the exports
    )
    start = time.perf_counter()
    run_sweep(request)
    wall = time.perf_counter() - start
    store = Store(request.store)
    rows = [dict(r) for r in store.query("SELECT status, export_seconds, profile_json FROM exports")]
    fp32 = [r["export_seconds"] for r in rows if '"fp32"' in r["profile_json"]]
    int8 = [r["export_seconds"] for r in rows if '"int8"' in r["profile_json"]]
    failed = sum(r["status"] != "ok" for r in rows)
    workers = min(os.cpu_count() or 1, len(rows))
    networks = store.query("SELECT COUNT(*) FROM sweep_archs")[0][0]
    text = (
        f"{networks} networks, {len(rows)} exports ({failed} failed) with {workers} workers: "
        f"wall {wall:.1f} s\nlitert-torch fp32 per network: median {statistics.median(fp32):.1f} s, "
        f"max {max(fp32):.1f} s, sum {sum(fp32):.0f} s\nfull-int8 quantization per network (fp32 reused): "
        f"median {statistics.median(int8):.2f} s, sum {sum(int8):.0f} s\n"
        f"load average at the end: {os.getloadavg()[0]:.2f} (1 min)"
    )
    save("tflite_demo_conversion", text, {"wall_s": wall, "fp32_s": fp32, "int8_s": int8, "failed": failed})


if __name__ == "__main__":
    demo_conversion() if "--demo" in sys.argv[1:] else backends()
