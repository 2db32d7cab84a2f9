"""PyTorch artifact: a torch.export ExportedProgram (.pt2), run eagerly by the torch runner."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from hwbench.config import Strict
from hwbench.export import EXPORTERS, ExporterDef
from hwbench.export.canonical import strip_pt2_program
from hwbench.export.onnx import compare_all, model_outputs


class Pt2Options(Strict):
    """No knobs yet: the program is exported as is, in eval mode."""


def export_pt2(model: Any, x: Any, path: str, options: Pt2Options, context: dict[str, Any]) -> dict[str, Any]:
    """Export with torch.export and save as .pt2 (a zip of graph + weights; no pickled code)."""
    import torch

    start = time.perf_counter()
    program = torch.export.export(model, (x,))
    # Node stack traces hold this checkout's absolute paths; and a file path names the archive's top folder
    # after the (temporary) file, so the program is saved to a buffer (folder "archive") and written out.
    stripped = strip_pt2_program(program)
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    Path(path).write_bytes(buffer.getvalue())
    return {"export_seconds": time.perf_counter() - start, "debug_metadata_dropped": stripped}


def inspect_pt2(path: str) -> dict[str, Any]:
    """Counts of aten operators in the exported graph."""
    from collections import Counter

    import torch

    program = torch.export.load(path)
    ops = Counter(str(node.target).removeprefix("aten.") for node in program.graph.nodes if node.op == "call_function")
    return {"ops": dict(sorted(ops.items())), "n_ops": sum(ops.values())}


def parity_pt2(path: str, model: Any, x: Any, options: Pt2Options, context: dict[str, Any]) -> dict[str, Any]:
    """Compare the reloaded program's outputs with the eager model's (every output)."""
    import torch

    program = torch.export.load(path).module()
    return compare_all(model_outputs(model, x), model_outputs(program, x))


EXPORTERS.register("torch")(
    ExporterDef(
        format="torch",
        extension=".pt2",
        options=Pt2Options,
        export=export_pt2,
        inspect=inspect_pt2,
        parity=parity_pt2,
        distributions=("torch",),
        artifact_version=1,  # debugging metadata dropped (hwbench.export.canonical)
    )
)
