"""Modelled accelerators (ZigZag): per block, modelled latency and energy on three accelerator archetypes, for the
networks of the CPU backends benchmark (benchmarks/backends.py: two networks per default CNN space at 224 px, plus
MobileNetV2); seconds per network uncached and with the layer cache warm from the rest of its space; and the
Kendall τ of the block ranking (median latency per block) between each modelled accelerator and each measured CPU
backend of benchmarks/results/backends.json.

`--quick`: one network per space, no MobileNetV2. Full run: `python benchmarks/modelled_accelerators.py`. (Not named
zigzag.py: run as a script, that name would shadow the zigzag package itself.)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

from common import RESULTS, ROOT, export_onnx, sample_specs, save, table

TARGETS = ("model-edge-tpu-like", "model-tpu-like", "model-eyeriss-like")
MEASURED = ("ort_ms", "tfl_fp32_ms", "tfl_int8_ms", "tfl_mixed_ms", "openvino_ms")


def model(mt: Any, onnx: str, cached: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """One network's modelled result and its wall seconds (one process, as a sweep worker runs it)."""
    from hwbench.modelled.job import job_for, model_job

    job = job_for(mt, onnx, cached)  # outside the clock: the seconds are the worker's own
    start = time.perf_counter()
    result = model_job(job)
    if result["status"] != "ok":
        raise RuntimeError(f"{onnx}: {result['error']}")
    return result, time.perf_counter() - start


def run(quick: bool) -> None:
    """The tables: per block and network, modelled figures, seconds uncached and warm, Kendall τ."""
    from hwbench.config.target import load_target
    from hwbench.pipeline.modelled import ModelledTarget

    specs = [(label, spec) for label, spec in sample_specs(per_space=1 if quick else 2) if "#" in label or not quick]
    onnx = {label: export_onnx(spec)[0] for label, spec in specs}
    rows, per_target = [], {}
    for name in TARGETS:
        mt = ModelledTarget.of(load_target(ROOT / "targets" / f"{name}.yaml"))
        fresh: dict[str, dict[str, Any]] = {}
        results: dict[str, dict[str, Any]] = {}
        for label, path in onnx.items():  # uncached: each network alone, an empty cache
            results[label], seconds = model(mt, path, {})
            fresh[label] = results[label]["new_layers"]
            r = results[label]
            rows.append({"target": name, "model": label, "block": label.split("#")[0], "uncached_s": seconds,
                         "latency_ms": r["latency_ms"], "energy_uj": r["energy_uj"], "util": r["utilisation"],
                         "layers": r["n_layers"], "distinct": len(fresh[label])})  # fmt: skip
        for row in (r for r in rows if r["target"] == name):  # warm: every other network's layers cached
            cache = {k: v for other, layers in fresh.items() if other != row["model"] for k, v in layers.items()}
            warm, seconds = model(mt, onnx[row["model"]], cache)
            row.update(warm_s=seconds, cached=warm["layers_cached"], same=warm["latency_ms"] == row["latency_ms"])
        per_target[name] = mt.settings
    blocks = _per_block(rows)
    tau = _tau(blocks)
    columns = ["target", "model", "latency_ms", "energy_uj", "util", "layers", "distinct", "cached", "uncached_s",
               "warm_s", "same"]  # fmt: skip
    med = {t: (statistics.median(r["uncached_s"] for r in rows if r["target"] == t),
               statistics.median(r["warm_s"] for r in rows if r["target"] == t)) for t in TARGETS}  # fmt: skip
    text = "\n\n".join(
        [
            f"settings: {per_target[TARGETS[0]]} (every target's file; clock 1000 MHz); "
            f"{'quick: 1 network per space' if quick else '2 networks per space + MobileNetV2'} at 224 px",
            "per block, median over its networks (modelled; not measured):\n"
            + table(blocks, ["target", "block", "latency_ms", "energy_uj", "util"]),
            "per network (cached: layers found in a cache warmed by every other network of the run, as a sweep over\n"
            "these spaces warms it; same: the warm figures equal the uncached ones):\n" + table(rows, columns),
            "median seconds per network, uncached / warm: "
            + ", ".join(f"{t} {u:.1f} / {w:.1f}" for t, (u, w) in med.items()),
            "Kendall τ of the block ranking (median latency per block), modelled accelerator vs measured CPU backend"
            " (benchmarks/results/backends.json, 1 thread):\n"
            + (table(tau, ["modelled", *MEASURED]) if tau else "backends.json not found or no shared blocks"),
        ]
    )
    save(
        "modelled_accelerators_quick" if quick else "modelled_accelerators",
        text,
        {"rows": rows, "blocks": blocks, "tau": tau, "median_s": med},
    )


def _per_block(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for target in TARGETS:
        mine = [r for r in rows if r["target"] == target]
        for block in dict.fromkeys(r["block"] for r in mine):
            part = [r for r in mine if r["block"] == block]
            medians = {k: statistics.median(r[k] for r in part) for k in ("latency_ms", "energy_uj", "util")}
            out.append({"target": target, "block": block, **medians})
    return out


def _tau(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """τ between each modelled target's block medians and each measured backend's (the blocks both have)."""
    import json

    from scipy import stats

    path = RESULTS / "backends.json"
    if not path.is_file():
        return []
    measured = {b["block"]: b for b in json.loads(path.read_text())["per_block"]}
    rows = []
    for target in TARGETS:
        mine = {b["block"]: b["latency_ms"] for b in blocks if b["target"] == target and b["block"] in measured}
        if len(mine) < 2:
            continue
        names = sorted(mine)
        row: dict[str, Any] = {"modelled": target}
        for column in MEASURED:
            row[column] = stats.kendalltau([mine[b] for b in names], [measured[b][column] for b in names])[0]
        rows.append(row)
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    run("--quick" in sys.argv[1:])
