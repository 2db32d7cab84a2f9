"""The worker's job for one network on one modelled target: ONNX in, modelled figures (and new layers) out."""

from __future__ import annotations

import time
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Any

from hwbench.modelled import ModelMissingError
from hwbench.modelled.workload import Workload, WorkloadError, layer_key, load_workload


def job_for(mt: Any, path: str | Path, cached: dict[str, Any] | None = None) -> dict[str, Any]:
    """The wire dict model_job reads, for one ONNX file on a resolved modelled target (a ModelledTarget)."""
    return {
        "path": str(path),
        "accelerator": mt.accelerator,
        "mapping": mt.mapping,
        "mapping_names": list(mt.mapping_names),
        "optimise": mt.settings["optimise"],
        "effort": mt.settings["effort"],
        "clock_mhz": mt.settings["clock_mhz"],
        "scope": mt.scope(),
        "cached": cached or {},
    }


def model_job(job: dict[str, Any]) -> dict[str, Any]:
    """Model one network: {status, figures, layers, coverage, new_layers} or {status: error, error}."""
    from hwbench.modelled.zigzag_model import ModelParseError, cost_network

    start = time.perf_counter()
    try:
        work = load_workload(job["path"], tuple(job["mapping_names"]))
        keys = layer_keys(work, job["scope"])
        rows, fresh = cost_network(
            work, keys, job["cached"], job["accelerator"], job["mapping"], job["optimise"], job["effort"]
        )
    except (WorkloadError, ModelParseError, ModelMissingError) as exc:
        return {"status": "error", "error": str(exc), "model_seconds": time.perf_counter() - start}
    except Exception as exc:
        return {
            "status": "error",
            "error": f"ZigZag failed: {type(exc).__name__}: {str(exc)[:300]}",
            "traceback": traceback.format_exc()[-4000:],
            "model_seconds": time.perf_counter() - start,
        }
    result = summarise(work, rows, float(job["clock_mhz"]))
    return {"status": "ok", **result, "new_layers": fresh, "model_seconds": time.perf_counter() - start}


def layer_keys(work: Workload, scope: dict[str, Any]) -> dict[int, str]:
    """Cache key of every costed node, by node index."""
    return {n.index: layer_key(n.signature or {}, scope) for n in work.costed()}


def summarise(work: Workload, rows: list[dict[str, Any]], clock_mhz: float) -> dict[str, Any]:
    """Network figures from its layers' (cycles and ms at the clock, energy, utilisation) and its coverage."""
    cycles = sum(r["cycles"] for r in rows)
    ideal = sum(r["ideal_cycles"] for r in rows)
    energy_pj = sum(r["energy_pj"] for r in rows)
    zigzag_macs = sum(r["macs"] for r in rows)
    cycles_per_ms = clock_mhz * 1e3
    layers = [
        {
            "node": r["node"],
            "op": r["op"],
            "source": r["source"],
            "macs": r["macs"],
            "cycles": r["cycles"],
            "latency_ms": r["cycles"] / cycles_per_ms,
            "energy_uj": r["energy_pj"] / 1e6,
            "utilisation": r["ideal_cycles"] / r["cycles"] if r["cycles"] else None,
            "spatial_utilisation": r["spatial_utilisation"],
        }
        for r in rows
    ]
    coverage = coverage_table(work)
    return {
        "cycles": cycles,
        "latency_ms": cycles / cycles_per_ms,
        "energy_uj": energy_pj / 1e6,
        "mac_energy_uj": sum(r["mac_energy_pj"] for r in rows) / 1e6,
        "mem_energy_uj": sum(r["mem_energy_pj"] for r in rows) / 1e6,
        "utilisation": ideal / cycles if cycles else None,
        "spatial_utilisation": (
            sum(r["macs"] * r["spatial_utilisation"] for r in rows) / zigzag_macs if zigzag_macs else None
        ),
        "macs": coverage["macs"],
        "costed_macs": coverage["costed_macs"],
        "zigzag_macs": zigzag_macs,
        "mac_coverage": coverage["mac_coverage"],
        "n_layers": len(rows),
        "layers_cached": sum(r["source"] == "cache" for r in rows),
        "layers_costed": sum(r["source"] == "costed" for r in rows),
        "layers": layers,
        "coverage": coverage,
    }


def coverage_table(work: Workload) -> dict[str, Any]:
    """Which nodes the model costs and which it leaves out, by kind, with their MACs (they add up to the network's)."""
    kinds: dict[str, dict[str, Any]] = defaultdict(lambda: {"nodes": 0, "macs": 0, "ops": set()})
    for node in work.nodes:
        kind = kinds[node.category]
        kind["nodes"] += 1
        kind["macs"] += node.macs
        kind["ops"].add(node.op_type)
    by_kind = {k: {**v, "ops": sorted(v["ops"])} for k, v in sorted(kinds.items())}
    costed = by_kind.get("costed", {}).get("macs", 0)
    total = work.macs
    return {
        "macs": total,
        "costed_macs": costed,
        "uncosted_macs": total - costed,
        "mac_coverage": costed / total if total else None,
        "by_kind": by_kind,
    }
