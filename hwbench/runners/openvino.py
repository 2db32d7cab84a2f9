"""OpenVINO CPU runner: reads the ONNX artifact, latency hint, one stream, explicit inference precision."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from hwbench.runners import RUNNERS, RunnerDef, Session, TensorSpec, import_runtime

INSTALL = "pip install 'hwbench[openvino]'"


@dataclass(frozen=True)
class OpenvinoOptions:
    """OpenVINO compile knobs (threads come from the target)."""

    __pydantic_config__ = {"extra": "forbid"}  # read by pydantic when validating targets

    # Set explicitly: on CPUs with bf16 support (AVX512-BF16, AMX) the CPU plugin defaults to bf16,
    # which changes both accuracy and speed. A precision the CPU lacks is replaced by the plugin;
    # the effective one is recorded.
    inference_precision: Literal["f32", "bf16", "f16"] = "f32"
    performance_hint: Literal["LATENCY", "THROUGHPUT"] = "LATENCY"
    num_streams: int = 1

    def __post_init__(self) -> None:
        if self.num_streams < 1:
            raise ValueError(f"num_streams must be at least 1, got {self.num_streams}")


def one_line(exc: Exception) -> str:
    """OpenVINO's multi-line C++ messages, reduced to their most specific line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


class OpenvinoSession(Session):
    """A model compiled for the CPU device with one infer request."""

    def __init__(self, path: str, threads: int, options: OpenvinoOptions) -> None:
        if "openvino" not in sys.modules:
            # Importing openvino starts its usage telemetry, which forks a process that sends data; a
            # measuring process must run nothing beside the model, so OpenVINO's own stub is used instead.
            sys.modules.setdefault("openvino_telemetry", None)
        ov = import_runtime("openvino", INSTALL)
        self.ov, self.options = ov, options
        core = ov.Core()
        config = {
            "PERFORMANCE_HINT": options.performance_hint,
            "NUM_STREAMS": options.num_streams,
            "INFERENCE_NUM_THREADS": threads,
            "INFERENCE_PRECISION_HINT": options.inference_precision,
        }
        try:
            self.compiled = core.compile_model(core.read_model(path), "CPU", config)
        except RuntimeError as exc:
            raise RuntimeError(f"OpenVINO could not load {path}: {one_line(exc)}") from None
        self.device = core.get_property("CPU", "FULL_DEVICE_NAME")
        self.request = self.compiled.create_infer_request()

    def inputs(self) -> list[TensorSpec]:
        """Input tensors (dynamic dimensions become 1)."""
        specs = []
        for port in self.compiled.inputs:
            shape = tuple(d.get_length() if d.is_static else 1 for d in port.get_partial_shape())
            specs.append(TensorSpec(port.get_any_name(), shape, port.get_element_type().to_dtype().name))
        return specs

    def _bind(self, inputs: list[np.ndarray]) -> None:
        for i, (spec, x) in enumerate(zip(self.inputs(), inputs)):
            data = np.ascontiguousarray(x, dtype=spec.dtype)
            # shared_memory: no copy per call; the array must outlive the request, hence kept on self.
            self.request.set_input_tensor(i, self.ov.Tensor(data, shared_memory=True))
        self._bound = inputs

    def prepare(self, inputs: list[np.ndarray]) -> Callable[[], Any]:
        """Bind inputs once; the returned call runs one synchronous inference."""
        self._bind(inputs)
        return self.request.infer

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """One inference on float inputs (outputs copied: the request reuses its buffers)."""
        self._bind(inputs)
        self.request.infer()
        return [np.array(self.request.get_output_tensor(i).data) for i in range(len(self.compiled.outputs))]

    def outputs_call(self, inputs: list[np.ndarray]) -> Callable[[], list[np.ndarray]]:
        """Bind inputs now; the call runs one synchronous inference and returns every output as float32."""
        self._bind(inputs)
        infer, output = self.request.infer, self.request.get_output_tensor
        count = len(self.compiled.outputs)

        def call() -> list[np.ndarray]:
            infer()
            # Copied: the request writes the next inference into the same buffers.
            return [np.array(output(i).data, dtype=np.float32) for i in range(count)]

        return call

    def info(self) -> dict[str, Any]:
        """The effective inference precision, the precisions kernels actually run in, the device."""
        precision = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        runtime = set()
        for op in self.compiled.get_runtime_model().get_ops():
            rt = op.get_rt_info()
            if "runtimePrecision" in rt:
                runtime.add(rt["runtimePrecision"].astype(str))
        return {
            "inference_precision": precision.get_type_name(),
            "requested_precision": self.options.inference_precision,
            "runtime_precisions": sorted(runtime),
            "threads": self.compiled.get_property("INFERENCE_NUM_THREADS"),
            "streams": self.compiled.get_property("NUM_STREAMS"),
            "device": self.device,
        }


RUNNERS.register("openvino")(
    RunnerDef(
        name="openvino",
        format="onnx",
        description="OpenVINO, CPU device, latency hint, explicit inference precision (ONNX artifact)",
        options=OpenvinoOptions,
        open=lambda path, threads, options: OpenvinoSession(path, threads, options),
        distributions=("openvino",),
    )
)
