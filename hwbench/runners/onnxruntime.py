"""onnxruntime CPU runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from hwbench.runners import RUNNERS, RunnerDef, Session, TensorSpec, import_runtime

_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}
_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
}


@dataclass(frozen=True)
class OrtOptions:
    """onnxruntime session knobs (threads come from the target)."""

    __pydantic_config__ = {"extra": "forbid"}  # read by pydantic when validating targets

    graph_optimization: Literal["disable", "basic", "extended", "all"] = "all"
    # IO binding avoids a per-call copy of the inputs, as a deployed application would.
    io_binding: bool = True
    # onnxruntime's threads spin between runs by default: faster back-to-back runs, a busy core.
    allow_spinning: bool = True


class OrtSession(Session):
    """An InferenceSession on the CPU execution provider."""

    def __init__(self, path: str, threads: int, options: OrtOptions) -> None:
        ort = import_runtime("onnxruntime", "pip install onnxruntime (included in hwbench[host])")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _LEVELS[options.graph_optimization])
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if options.allow_spinning else "0")
        self.options = options
        self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])

    def inputs(self) -> list[TensorSpec]:
        """Input tensors (dynamic dimensions become 1)."""
        return [
            TensorSpec(i.name, tuple(d if isinstance(d, int) else 1 for d in i.shape), _DTYPES.get(i.type, i.type))
            for i in self.session.get_inputs()
        ]

    def _feeds(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        return {spec.name: np.ascontiguousarray(x, dtype=spec.dtype) for spec, x in zip(self.inputs(), inputs)}

    def prepare(self, inputs: list[np.ndarray]) -> Callable[[], Any]:
        """Bind inputs once; the returned call runs one inference."""
        feeds = self._feeds(inputs)
        if not self.options.io_binding:
            session = self.session
            return lambda: session.run(None, feeds)
        binding = self._binding(feeds)
        run = self.session.run_with_iobinding
        return lambda: run(binding)

    def _binding(self, feeds: dict[str, np.ndarray]) -> Any:
        """An IOBinding with the inputs bound and every output bound to CPU memory."""
        binding = self.session.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, value)
        for out in self.session.get_outputs():
            binding.bind_output(out.name, "cpu")
        return binding

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """One inference on float inputs."""
        return [np.asarray(o) for o in self.session.run(None, self._feeds(inputs))]

    def outputs_call(self, inputs: list[np.ndarray]) -> Callable[[], list[np.ndarray]]:
        """Bind inputs now; the call runs one inference and returns every output as float32 (model order)."""
        feeds = self._feeds(inputs)
        if not self.options.io_binding:
            session = self.session
            return lambda: [np.asarray(o, dtype=np.float32) for o in session.run(None, feeds)]
        binding = self._binding(feeds)
        run = self.session.run_with_iobinding

        def call() -> list[np.ndarray]:
            run(binding)
            # The bound outputs, read as a deployed application would read them (one copy each).
            return [np.asarray(o, dtype=np.float32) for o in binding.copy_outputs_to_cpu()]

        return call


RUNNERS.register("onnxruntime")(
    RunnerDef(
        name="onnxruntime",
        format="onnx",
        description="onnxruntime, CPU execution provider",
        options=OrtOptions,
        open=lambda path, threads, options: OrtSession(path, threads, options),
        distributions=("onnxruntime",),
    )
)
