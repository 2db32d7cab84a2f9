"""Does token reduction make batch-1 inference faster? ToMe, LTMP and the MLP pruner at 3 levels each, in every
deploy form, against the dense ViT on onnxruntime and LiteRT (1 thread), next to the MACs each form computes.

One 4-block ViT (224 px, patch 16, width 192, 3 heads; random weights shared by every variant). Untrained LTMP
thresholds and pruner selectors are calibrated to their level on 16 random images (hwbench.models.calibrate);
latencies are medians over rounds that visit every (variant, runtime) in turn (hwbench's timing loop), so
slow machine drift spreads over all of them. Goal: speedup ≥ 0.8 × the MACs ratio dense / variant.
The data-dependent forms are also timed on 16 further random images (the ViT here is untrained; sweeps with
--dataset use dataset images): token counts, MACs and latency per image.
`python benchmarks/token_reduction.py [--rounds 3]`; run on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from common import save, table

BACKBONE = {
    "family": "vit",
    "block": "vit",
    "resolution": 224,
    "num_classes": 10,
    "patch": 16,
    "depth": 4,
    "width": 192,
    "heads": 3,
    "mlp_ratio": 4,
}
LEVELS = {
    "vit_tome": [{"r": 16}, {"r": 32}, {"r": 48}],
    # prune threshold ≈ 0.98 / N: random attention is near uniform, so this prunes a few tokens per block
    "vit_ltmp": [{"flops_target": t, "prune_threshold": 0.005} for t in (0.8, 0.6, 0.45)],
    "vit_mlp_prune": [{"keep_ratio": k, "groups": 1, "skip_first": 1} for k in (0.75, 0.5, 0.25)],
}
# Forms per runtime: LiteRT takes the static, sort-free ones only; masking is timed at level 2 as a reference.
FORMS = {
    "vit_tome": ["topk", "sort_free"],
    "vit_ltmp": ["dynamic", "fixed_count", "mask"],
    "vit_mlp_prune": ["dynamic", "fixed_count", "mask"],
}
LITERT_FORMS = ("dense", "sort_free", "fixed_count", "mask")


def protocol(seconds: float) -> Any:
    from hwbench.measure.timing import Protocol

    return Protocol(
        warmup_runs=10,
        warmup_seconds=0.2,
        min_runs=20,
        min_seconds=min(0.5, seconds),
        max_runs=100_000,
        max_seconds=seconds,
        rel_ci=0.01,
    )


def build(block: str, knobs: dict, dense_state: dict) -> tuple[Any, Any]:
    """Spec and model of a variant carrying the dense weights."""
    from hwbench.models import build_model
    from hwbench.space.archspec import ArchSpec

    spec = ArchSpec.from_dict({**BACKBONE, "block": block, "params": knobs})
    model = build_model(spec)
    model.load_state_dict(dense_state, strict=False)
    return spec, model


def export(model: Any, x: Any, out: Path, name: str, litert: bool) -> dict[str, Any]:
    """ONNX (and LiteRT) files of the prepared model, with their max abs error against PyTorch."""
    import litert_torch
    import torch

    from hwbench.export.onnx import OnnxOptions, export_onnx
    from hwbench.runners.onnxruntime import OrtOptions, OrtSession

    with torch.no_grad():
        ref = model(x).numpy()
    files = {"onnx": str(out / f"{name}.onnx")}
    export_onnx(model, x, files["onnx"], OnnxOptions(), {})
    errors = {"onnx": float(np.abs(OrtSession(files["onnx"], 1, OrtOptions()).run([x.numpy()])[0] - ref).max())}
    if litert:
        files["litert"] = str(out / f"{name}.tflite")
        litert_torch.config.show_progress = False
        litert_torch.convert(model, (x,)).export(files["litert"])
        errors["litert"] = float(np.abs(litert_call(files["litert"], x.numpy(), output=True) - ref).max())
    return {"files": files, "errors": errors}


def litert_call(path: str, x: np.ndarray, output: bool = False) -> Any:
    """A bound LiteRT invoke (1 thread, default XNNPACK delegate), or its output once."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    if output:
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    return interpreter.invoke


def ort_call(path: str, x: np.ndarray) -> Any:
    """A bound onnxruntime run as hwbench's runner does it (1 thread, IO binding)."""
    from hwbench.runners.onnxruntime import OrtOptions, OrtSession

    return OrtSession(path, 1, OrtOptions()).prepare([x])


def time_round_robin(calls: dict[tuple[str, str], Any], rounds: int) -> dict[tuple[str, str], tuple[float, float]]:
    """Median of the round medians (ms) and their spread, every call visited once per round."""
    from hwbench.measure.timing import run_protocol

    medians: dict[tuple[str, str], list[float]] = {k: [] for k in calls}
    for _ in range(rounds):
        for key, fn in calls.items():
            medians[key].append(float(np.median(run_protocol(fn, protocol(2.0)).samples_ns)) / 1e6)
    return {k: (statistics.median(v), max(v) - min(v)) for k, v in medians.items()}


def main() -> None:
    """Prepare, export, time and tabulate every variant."""
    import torch

    from hwbench.models.vit_deploy import count_per_input, prepare_vit

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    out = Path(tempfile.mkdtemp(prefix="hwbench-tokens-"))
    calib = torch.randn(16, 3, 224, 224, generator=torch.Generator().manual_seed(10))
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(11))
    spread_images = torch.randn(16, 3, 224, 224, generator=torch.Generator().manual_seed(12))
    _, dense = build("vit", {}, {})
    state = dense.state_dict()
    variants = [{"method": "dense", "level": 0, "form": "dense", "model": dense, "facts": {}}]
    for block, levels in LEVELS.items():
        for level, knobs in enumerate(levels, 1):
            for form in FORMS[block]:
                if form == "mask" and level != 2:
                    continue
                spec, model = build(block, knobs, state)
                fmt = "tflite" if form in LITERT_FORMS else "onnx"
                facts = prepare_vit(model, spec, fmt, form, images=calib)
                variants.append({"method": block, "level": level, "form": form, "model": model, "facts": facts})
    rows, calls = [], {}
    for v in variants:
        name = f"{v['method']}_{v['level']}_{v['form']}"
        exported = export(v["model"], x, out, name, v["form"] in LITERT_FORMS)
        counted = count_per_input(v["model"], x)[0]
        capacities = v["facts"].get("capacities")
        row = {
            "name": name,
            "method": v["method"],
            "level": v["level"],
            "form": v["form"],
            "tokens": counted["tokens"],
            "capacities": capacities,
            "macs_M": counted["macs"] / 1e6,
            "calibration": v["facts"].get("calibration"),
            "errors": exported["errors"],
            "files": exported["files"],
        }
        rows.append(row)
        calls[(name, "ort")] = ort_call(exported["files"]["onnx"], x.numpy())
        if "litert" in exported["files"]:
            calls[(name, "litert")] = litert_call(exported["files"]["litert"], x.numpy())
    timed = time_round_robin(calls, args.rounds)
    dense_macs = rows[0]["macs_M"]
    for row in rows:
        row["macs_ratio"] = row["macs_M"] / dense_macs
        for rt in ("ort", "litert"):
            if (row["name"], rt) in timed:
                ms, spread = timed[(row["name"], rt)]
                speedup = timed[(rows[0]["name"], rt)][0] / ms
                row[f"{rt}_ms"], row[f"{rt}_spread"], row[f"{rt}_speedup"] = ms, spread, speedup
                row[f"{rt}_goal"] = "yes" if speedup >= 0.8 / row["macs_ratio"] else "NO"
                if speedup < 1:
                    row[f"{rt}_goal"] += " (slower than dense)"
    spread_rows = per_image(variants, rows, spread_images, timed[(rows[0]["name"], "ort")][0])
    load_after = os.getloadavg()
    text = report(rows, spread_rows, load_before, load_after, args.rounds)
    save(
        "token_reduction",
        text,
        {
            "rows": [{k: v for k, v in r.items() if k != "files"} for r in rows],
            "per_image": spread_rows,
            "load": [load_before, load_after],
        },
    )


def per_image(variants: list[dict], rows: list[dict], images: Any, dense_ms: float) -> list[dict[str, Any]]:
    """Dynamic forms on onnxruntime over many images: token counts, MACs and latency per image."""
    from hwbench.measure.timing import run_protocol
    from hwbench.models.vit_deploy import count_per_input

    out = []
    for v, row in zip(variants, rows):
        if v["form"] != "dynamic":
            continue
        counts = count_per_input(v["model"], images)
        ms = []
        for i in range(images.shape[0]):
            fn = ort_call(row["files"]["onnx"], images[i : i + 1].numpy())
            ms.append(float(np.median(run_protocol(fn, protocol(0.5)).samples_ns)) / 1e6)
        last = [c["tokens"][-1] for c in counts]
        macs = [c["macs"] / 1e6 for c in counts]
        out.append(
            {
                "name": row["name"],
                "images": len(ms),
                "last_tokens_min": min(last),
                "last_tokens_median": statistics.median(last),
                "last_tokens_max": max(last),
                "macs_M_p10": float(np.percentile(macs, 10)),
                "macs_M_median": statistics.median(macs),
                "macs_M_p90": float(np.percentile(macs, 90)),
                "ort_ms_p10": float(np.percentile(ms, 10)),
                "ort_ms_median": statistics.median(ms),
                "ort_ms_p90": float(np.percentile(ms, 90)),
                "speedup_median": dense_ms / statistics.median(ms),
                "images_slower_than_dense": sum(m > dense_ms for m in ms),
            }
        )
    return out


def report(rows: list[dict], spread: list[dict], before: tuple, after: tuple, rounds: int) -> str:
    """The two tables and the conditions."""
    cols = [
        "name",
        "tokens",
        "capacities",
        "macs_M",
        "macs_ratio",
        "ort_ms",
        "ort_spread",
        "ort_speedup",
        "ort_goal",
        "litert_ms",
        "litert_spread",
        "litert_speedup",
        "litert_goal",
    ]
    errors = max(e for r in rows for e in r["errors"].values())
    return (
        f"load average before {before[0]:.2f} / {before[1]:.2f} / {before[2]:.2f}, after {after[0]:.2f} / "
        f"{after[1]:.2f} / {after[2]:.2f} (1/5/15 min); {rounds} rounds; max abs error of any artifact vs "
        f"PyTorch {errors:.1e}\nspeedup = dense median / variant median on the same runtime; goal: speedup ≥ 0.8 × "
        "dense MACs / variant MACs (MACs the artifact's form computes on the timed image)\n\n"
        + table(rows, cols)
        + "\n\nData-dependent forms on onnxruntime, per image over 16 random images (batch 1):\n\n"
        + table(spread, list(spread[0]) if spread else [])
    )


if __name__ == "__main__":
    main()
