"""What a .tflite file contains, read from its flatbuffer: operators, tensor types, fully-integer or not."""

from __future__ import annotations

from collections import Counter
from typing import Any

# An Edge TPU compiles only models whose every tensor is one of these (int32 holds biases).
INTEGER_TYPES = ("INT8", "UINT8", "INT32")
MAX_LISTED = 10


def structure(path: str) -> dict[str, Any]:
    """Operator counts over every subgraph, tensor-type counts and the fully-integer check.

    The generated flatbuffer reader does not verify the file: open it with an Interpreter first
    (which does) so a truncated file raises a clear error instead of a struct error here.
    """
    from ai_edge_litert import schema_py_generated as schema

    op_names = _names(schema.BuiltinOperator)
    type_names = _names(schema.TensorType)
    with open(path, "rb") as f:
        model = schema.Model.GetRootAs(f.read(), 0)
    ops: Counter[str] = Counter()
    types: Counter[str] = Counter()
    non_integer = []
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for i in range(graph.OperatorsLength()):
            ops[_op_name(model, graph.Operators(i).OpcodeIndex(), op_names, schema)] += 1
        for i in range(graph.TensorsLength()):
            tensor = graph.Tensors(i)
            kind = type_names.get(tensor.Type(), str(tensor.Type()))
            types[kind] += 1
            if kind not in INTEGER_TYPES:
                non_integer.append(f"{(tensor.Name() or b'').decode(errors='replace')}:{kind}")
    return {
        "ops": dict(sorted(ops.items())),
        "n_ops": sum(ops.values()),
        "tensor_types": dict(sorted(types.items())),
        "fully_integer": not non_integer,
        "non_integer_tensors": len(non_integer),
        "non_integer_examples": non_integer[:MAX_LISTED],
    }


def _names(enum: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


def _op_name(model: Any, index: int, names: dict[int, str], schema: Any) -> str:
    code = model.OperatorCodes(index)
    # builtin_code (int32) holds codes >= 127; older files only fill deprecated_builtin_code (int8).
    value = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if value == schema.BuiltinOperator.CUSTOM:
        return f"CUSTOM:{(code.CustomCode() or b'').decode(errors='replace')}"
    return names.get(value, f"UNKNOWN_{value}")
