"""ONNX exporter choice, with evidence: dynamo vs TorchScript exporter on one network per CNN block.

For each: export seconds, success, parity with PyTorch, node count, and onnxruntime latency of the two
graphs (1 thread), measured one after the other with the same protocol.
"""

from __future__ import annotations

from common import export_onnx, sample_specs, save, table


def main() -> None:
    """Export each sample network with both exporters and compare."""
    import onnx

    from hwbench.runners.local import measure_artifact

    protocol = {
        "warmup_runs": 10,
        "warmup_seconds": 0.2,
        "min_runs": 20,
        "min_seconds": 0.5,
        "max_runs": 3000,
        "max_seconds": 10,
        "rel_ci": 0.01,
    }
    rows = []
    for label, spec in sample_specs():
        row = {"model": label}
        for exporter in ("dynamo", "torchscript"):
            try:
                path, seconds = export_onnx(spec, exporter)
            except RuntimeError as exc:
                row[f"{exporter}_s"] = f"failed: {exc}"[:40]
                continue
            row[f"{exporter}_s"] = seconds
            row[f"{exporter}_nodes"] = len(onnx.load(path).graph.node)
            result = measure_artifact({"runner": "onnxruntime", "path": path, "threads": 1, "protocol": protocol})
            row[f"{exporter}_ms"] = result.get("median_ms")
        rows.append(row)
    cols = ["model", "dynamo_s", "torchscript_s", "dynamo_nodes", "torchscript_nodes", "dynamo_ms", "torchscript_ms"]
    save("export_bench", table(rows, cols), rows)


if __name__ == "__main__":
    main()
