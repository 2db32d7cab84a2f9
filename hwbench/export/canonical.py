"""Canonical artifact content: what is left of a file once debugging metadata is dropped.

Exporters write artifacts already in canonical form (so their bytes, and hence their hashes, do not depend on
the checkout path, user, host or time); `content_hash` recomputes the canonical identity of any artifact file,
including ones written before this, so two artifacts can be compared as "same network" even when their bytes
differ. See docs/export.md for what each converter writes and why it is (or is not) deterministic by itself.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from hwbench.export.artifacts import file_hash

# The torch.export archive's random-looking id is derived from the other records (their names and CRCs), so
# it only differs when they do; it is left out of the content hash, as is the archive's top folder name.
PT2_SKIPPED = (".data/serialization_id",)
# Node metadata that locates the exporting Python code (absolute paths, source lines): never part of a network.
PT2_NODE_KEYS = ("stack_trace",)


def strip_onnx_model(model: Any) -> int:
    """Drop debugging metadata (stack traces, FX node text, class hierarchies, rewrite rules, doc strings) from
    every graph, function, node and value of an onnx ModelProto in place; returns how many entries went."""
    removed = 0
    graphs = [model.graph]
    for function in model.functions:
        removed += _clear(function) + _clear_nodes(function.node, graphs)
        removed += sum(_clear(value) for value in getattr(function, "value_info", ()))
    while graphs:
        graph = graphs.pop()
        removed += _clear(graph) + _clear_nodes(graph.node, graphs)
        for value in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
            removed += _clear(value)
    return removed


def _clear_nodes(nodes: Any, graphs: list[Any]) -> int:
    """Clear each node; queue the subgraphs of control-flow nodes (If, Loop, Scan) for the same."""
    removed = 0
    for node in nodes:
        removed += _clear(node)
        for attr in node.attribute:
            graphs.extend([attr.g] if attr.HasField("g") else [])
            graphs.extend(attr.graphs)
    return removed


def _clear(proto: Any) -> int:
    """Clear one proto's metadata_props and doc_string (where its type has them); returns how many there were."""
    fields = proto.DESCRIPTOR.fields_by_name
    count = 0
    if "metadata_props" in fields:
        count += len(proto.metadata_props)
        proto.ClearField("metadata_props")
    if "doc_string" in fields:
        count += bool(proto.doc_string)
        proto.ClearField("doc_string")
    return count


def canonicalize_onnx(path: str | Path) -> int:
    """Rewrite an ONNX file without its debugging metadata; returns how many entries were dropped."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    removed = strip_onnx_model(model)
    Path(path).write_bytes(model.SerializeToString(deterministic=True))
    return removed


def strip_pt2_program(program: Any) -> int:
    """Drop the per-node Python stack traces of a torch.export ExportedProgram in place (before saving)."""
    removed = 0
    for module in program.graph_module.modules():
        graph = getattr(module, "graph", None)
        for node in graph.nodes if graph is not None else ():
            for key in PT2_NODE_KEYS:
                removed += node.meta.pop(key, None) is not None
    return removed


def content_hash(path: str | Path) -> str:
    """sha256 of an artifact's canonical content (debugging metadata and archive names left out)."""
    path = Path(path)
    if path.suffix == ".onnx":
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        strip_onnx_model(model)
        return hashlib.sha256(model.SerializeToString(deterministic=True)).hexdigest()
    if path.suffix == ".pt2":
        return _pt2_content_hash(path)
    # TFLite (litert-torch, ai-edge-quantizer) and compiled Edge TPU files are deterministic as written.
    return file_hash(path)


def _pt2_content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        records = {}
        for info in archive.infolist():
            # Every record sits under one folder named after the file it was first saved as: not content.
            name = info.filename.split("/", 1)[1] if "/" in info.filename else info.filename
            if name not in PT2_SKIPPED:
                records[name] = archive.read(info)
    for name in sorted(records):
        data = records[name]
        if name.startswith("models/") and name.endswith(".json"):
            data = _strip_pt2_json(data)
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _strip_pt2_json(data: bytes) -> bytes:
    doc = json.loads(data)
    graphs = [doc.get("graph_module", {}).get("graph", {})]
    while graphs:
        graph = graphs.pop()
        for node in graph.get("nodes", []):
            for key in PT2_NODE_KEYS:
                node.get("metadata", {}).pop(key, None)
            for arg in node.get("inputs", []):
                sub = arg.get("arg", {}).get("as_graph")
                if sub:
                    graphs.append(sub.get("graph", {}))
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
