"""The exported ONNX graph as a modelled workload: shapes, MACs per node, what the model costs and what it does not.

Pure onnx + numpy (no ZigZag): the sweep's driver reads it to find a network's cached layers before sending the
network to a worker. The MACs are counted from the graph's shapes the way hwbench counts a network's MACs
(convolutions and matrix products, one multiply-accumulate per weight use; bias, activations and normalisation
count none), so the costed and uncosted MACs add up to the network's MACs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any

import onnx

from hwbench.store.keys import digest

# The operators ZigZag 3.9 turns into costed layers (zigzag.parser.onnx.onnx_model_parser.PARSER_MAPPING).
COSTED_OPS = ("Conv", "QLinearConv", "Gemm", "MatMul")
# What the model leaves out, by kind: ZigZag makes these "dummy" nodes with no cost (docs/modelled-targets.md).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "activation": (
        "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Gelu", "Tanh", "Softplus", "Mish", "Elu", "Selu",
        "LeakyRelu", "PRelu", "Erf", "Celu",
    ),
    "normalisation": (
        "BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
        "RMSNormalization", "LpNormalization",
    ),
    "softmax": ("Softmax", "LogSoftmax"),
    "elementwise": ("Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Neg", "Exp", "Log", "Reciprocal", "Abs", "Max", "Min"),
    "pooling": (
        "GlobalAveragePool", "AveragePool", "MaxPool", "GlobalMaxPool", "ReduceMean", "ReduceSum", "ReduceMax",
        "ReduceMin", "ReduceProd",
    ),
    "data movement": (
        "Reshape", "Transpose", "Flatten", "Concat", "Split", "Slice", "Gather", "GatherElements", "Squeeze",
        "Unsqueeze", "Expand", "Identity", "Shape", "Constant", "Cast", "Pad", "Tile", "Resize", "ConstantOfShape",
        "Range", "Where", "Equal", "ScatterND", "DepthToSpace", "SpaceToDepth", "Size",
    ),
}  # fmt: skip
# Operators with multiply-accumulates ZigZag 3.9 does not parse: counted, never costed.
MAC_OPS = ("ConvTranspose",)


class WorkloadError(ValueError):
    """The graph cannot be read as a workload (no shapes for a costed node, an unreadable file)."""


@dataclass
class Node:
    """One ONNX node: its kind for the model, its MACs and, for a costed node, its layer signature."""

    index: int
    name: str
    op_type: str
    category: str  # "costed" or the kind it is left out as
    macs: int
    signature: dict[str, Any] | None = None  # what determines the layer's cost (costed nodes)


@dataclass
class Workload:
    """A shape-inferred graph and its nodes as the model sees them."""

    model: onnx.ModelProto
    nodes: list[Node] = field(default_factory=list)

    @property
    def macs(self) -> int:
        """The network's MACs, counted from the graph."""
        return sum(n.macs for n in self.nodes)

    def costed(self) -> list[Node]:
        """The nodes the model costs, in graph order."""
        return [n for n in self.nodes if n.category == "costed"]


def load_workload(path: str | Path, mapping_names: tuple[str, ...] = ()) -> Workload:
    """Read an ONNX file, infer every shape, and classify its nodes; `mapping_names`: the mapping file's entries."""
    try:
        model = onnx.shape_inference.infer_shapes(onnx.load(str(path)), strict_mode=False, data_prop=True)
    except Exception as exc:
        raise WorkloadError(f"{Path(path).name}: ONNX shape inference failed: {exc}") from None
    shapes = tensor_shapes(model)
    constants = {i.name for i in model.graph.initializer}
    producers: dict[str, int] = {}
    work = Workload(model)
    for index, node in enumerate(model.graph.node):
        name = node.name or f"Op{index}"  # ZigZag's own name for an unnamed node
        predecessors = sum(i in producers for i in node.input)  # as ZigZag counts them (duplicates too)
        for out in node.output:
            producers[out] = index
        macs = node_macs(node, shapes)
        if node.op_type in COSTED_OPS:
            signature = layer_signature(node, name, shapes, constants, predecessors, mapping_names)
            work.nodes.append(Node(index, name, node.op_type, "costed", macs, signature))
        else:
            work.nodes.append(Node(index, name, node.op_type, category_of(node.op_type), macs))
    return work


def category_of(op_type: str) -> str:
    """The kind an uncosted operator is left out as (e.g. activation, data movement; `other` if unlisted)."""
    if op_type in MAC_OPS:
        return "unparsed MACs"
    return next((kind for kind, ops in CATEGORIES.items() if op_type in ops), "other")


def tensor_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...] | None]:
    """Static shape of every named tensor (None where a dimension is unknown)."""
    shapes: dict[str, tuple[int, ...] | None] = {}
    graph = model.graph
    for info in [*graph.input, *graph.output, *graph.value_info]:
        dims = info.type.tensor_type.shape.dim
        known = all(d.HasField("dim_value") for d in dims)
        shapes[info.name] = tuple(int(d.dim_value) for d in dims) if known else None
    for init in graph.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
    return shapes


def node_macs(node: onnx.NodeProto, shapes: dict[str, tuple[int, ...] | None]) -> int:
    """Multiply-accumulates of one node (0 for operators without them)."""
    if node.op_type not in (*COSTED_OPS, *MAC_OPS):
        return 0
    weight_at = 3 if node.op_type == "QLinearConv" else 1
    out = _shape(shapes, node.output[0], node)
    if node.op_type in ("Conv", "QLinearConv"):
        weight = _shape(shapes, node.input[weight_at], node)
        return prod(out) * prod(weight[1:])  # each output element: (C/groups)·kh·kw MACs
    if node.op_type == "ConvTranspose":
        weight = _shape(shapes, node.input[1], node)
        return prod(_shape(shapes, node.input[0], node)) * prod(weight[1:])
    a = _shape(shapes, node.input[0], node)
    transposed = node.op_type == "Gemm" and _int_attr(node, "transA", 0)
    inner = a[0] if transposed else a[-1]
    return prod(out) * inner  # each output element of a matrix product: the shared dimension's MACs


def layer_signature(
    node: onnx.NodeProto,
    name: str,
    shapes: dict[str, tuple[int, ...] | None],
    constants: set[str],
    predecessors: int,
    mapping_names: tuple[str, ...],
) -> dict[str, Any]:
    """Everything about a node that ZigZag's layer (and so its cost) depends on, and nothing else (no names).

    ZigZag picks a layer's mapping entry by node name, else by operator type, else `default`; the entry picked is
    part of the signature, so a mapping file that names layers never shares their cost with other layers.
    """
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    attributes = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in sorted(attributes.items())}
    entry = name if name in mapping_names else node.op_type if node.op_type in mapping_names else "default"
    return {
        "op": node.op_type,
        "attributes": attributes,
        "inputs": [list(shapes.get(i) or ()) for i in node.input],
        "constant_inputs": [i in constants for i in node.input],
        "outputs": [list(shapes.get(o) or ()) for o in node.output],
        "predecessors": predecessors,
        "mapping_entry": entry,
    }


def layer_key(signature: dict[str, Any], scope: dict[str, Any]) -> str:
    """Cache key of a costed layer: its signature × the model's scope (accelerator, mapping, settings, version)."""
    return digest({"layer": signature, "scope": scope}, 32)


def _shape(shapes: dict[str, tuple[int, ...] | None], name: str, node: onnx.NodeProto) -> tuple[int, ...]:
    shape = shapes.get(name)
    if not shape:
        raise WorkloadError(f"{node.op_type} node {node.name!r}: no static shape for tensor {name!r}")
    return shape


def _int_attr(node: onnx.NodeProto, name: str, default: int) -> int:
    return next((int(a.i) for a in node.attribute if a.name == name), default)
