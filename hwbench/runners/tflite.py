"""TFLite runner: LiteRT (ai-edge-litert) with XNNPACK, or tflite-runtime where that is all a board has."""

from __future__ import annotations

import inspect
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Literal

import numpy as np

from hwbench.quiet import captured_output
from hwbench.runners import RUNNERS, RunnerDef, RuntimeMissingError, Session, TensorSpec

# Interpreter flavour -> (module, distribution).
INTERPRETERS = {
    "ai_edge_litert": ("ai_edge_litert.interpreter", "ai-edge-litert"),
    "tflite_runtime": ("tflite_runtime.interpreter", "tflite-runtime"),
}
# Measured here: tflite-runtime 2.14 does not load under numpy 2, and does not run int8 through XNNPACK
# (int8 MobileNetV2 35.8 ms vs 2.8 ms on LiteRT).
TFLITE_RUNTIME_CAVEAT = "tflite-runtime: no XNNPACK for int8 models, needs numpy<2; prefer ai-edge-litert"


@dataclass(frozen=True)
class TfliteOptions:
    """TFLite interpreter knobs (threads come from the target)."""

    __pydantic_config__ = {"extra": "forbid"}  # read by pydantic when validating targets

    # auto: ai_edge_litert when installed, else tflite_runtime.
    interpreter: Literal["auto", "ai_edge_litert", "tflite_runtime"] = "auto"
    # XNNPACK is the interpreter's default CPU delegate; false runs the builtin kernels only.
    xnnpack: bool = True
    # An accelerator delegate (hwbench.runners.delegates): edgetpu runs models compiled by edgetpu_compiler.
    delegate: Literal["none", "edgetpu"] = "none"
    # Which Edge TPU when several are attached: "usb", "usb:0", "pci:0" (default: the first found).
    delegate_device: str | None = None


def load_interpreter(choice: str) -> tuple[str, Any]:
    """(flavour, interpreter module) for the option value; RuntimeMissingError when none is installed."""
    from importlib import import_module

    flavours = list(INTERPRETERS) if choice == "auto" else [choice]
    errors = []
    for flavour in flavours:
        try:
            return flavour, import_module(INTERPRETERS[flavour][0])
        except ImportError as exc:
            errors.append(f"{flavour}: {exc}")
    wanted = " or ".join(INTERPRETERS[f][1] for f in flavours)
    raise RuntimeMissingError(
        f"the tflite runner needs {wanted} ({'; '.join(errors)}); install with: pip install 'hwbench[tflite]'"
        " (or pip install tflite-runtime on a board)"
    )


def quantize(x: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Float data to the tensor's integer type with its scale and zero point (clipped to the type's range)."""
    if not np.issubdtype(np.dtype(spec.dtype), np.integer):
        return np.ascontiguousarray(x, dtype=spec.dtype)
    if not spec.scale:
        raise ValueError(f"input {spec.name!r} is {spec.dtype} without quantization parameters")
    info = np.iinfo(spec.dtype)
    q = np.round(np.asarray(x, np.float32) / spec.scale) + (spec.zero_point or 0)
    return np.clip(q, info.min, info.max).astype(spec.dtype)


def dequantize(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """An output tensor back to float32 (unchanged when it is not quantized)."""
    scale, zero_point = detail["quantization"]
    if not scale:
        return np.array(y, dtype=np.float32)
    return (y.astype(np.float32) - zero_point) * np.float32(scale)


def _spec(detail: dict[str, Any]) -> TensorSpec:
    scale, zero_point = detail["quantization"]
    return TensorSpec(
        detail["name"],
        tuple(int(d) for d in detail["shape"]),
        np.dtype(detail["dtype"]).name,
        float(scale) if scale else None,
        int(zero_point) if scale else None,
    )


def _in_model_order(interpreter: Any, details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Output details in the converted model's order (litert-torch names them output_0, output_1, ...).

    The subgraph's output list is not promised to keep that order through conversion and quantization, and a
    detector's consumers take outputs by position (boxes, then scores). Without such a signature: the subgraph's order.
    """
    signatures = interpreter.get_signature_list() if hasattr(interpreter, "get_signature_list") else {}
    if len(details) < 2 or len(signatures) != 1:
        return details
    named = interpreter.get_signature_runner(next(iter(signatures))).get_output_details()
    position = {}
    for name, detail in named.items():
        match = re.fullmatch(r"output_(\d+)", name)
        if match is None:
            return details
        position[detail["index"]] = int(match.group(1))
    if set(position) != {d["index"] for d in details}:
        return details
    return sorted(details, key=lambda d: position[d["index"]])


def _accelerator(path: str, options: TfliteOptions) -> list[Any]:
    """The delegate the options ask for; an Edge TPU artifact must have been compiled for it."""
    from hwbench.runners.delegates import EDGETPU_OP, is_compiled, load_delegates

    if not is_compiled(path):
        # Without compilation the delegate takes nothing and the model would silently run on the CPU.
        raise ValueError(
            f"{path} is not compiled for the Edge TPU (no {EDGETPU_OP.decode()}); export with "
            "`edgetpu_compile: true` in the tflite int8 profile, or run edgetpu_compiler on it"
        )
    device = {"device": options.delegate_device} if options.delegate_device else {}
    return load_delegates([options.delegate], device)


class TfliteSession(Session):
    """An Interpreter with `num_threads = threads` and, unless disabled, the XNNPACK delegate."""

    def __init__(self, path: str, threads: int, options: TfliteOptions) -> None:
        self.flavour, self.module = load_interpreter(options.interpreter)
        self.path, self.threads, self.options = path, threads, options
        self.kwargs: dict[str, Any] = {"num_threads": threads}
        if not options.xnnpack:
            self.kwargs["experimental_op_resolver_type"] = self.module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        if options.delegate != "none":
            self.kwargs["experimental_delegates"] = _accelerator(path, options)
        with captured_output():  # the interpreter logs to stderr, over the sweep's progress bars
            self.interpreter = self.module.Interpreter(model_path=path, **self.kwargs)
            self.interpreter.allocate_tensors()  # the default delegate (XNNPACK) is applied here
        self._in = self.interpreter.get_input_details()
        self._out = _in_model_order(self.interpreter, self.interpreter.get_output_details())

    def inputs(self) -> list[TensorSpec]:
        """Input tensors, with scale and zero point where quantized."""
        return [_spec(d) for d in self._in]

    def _bind(self, inputs: list[np.ndarray]) -> None:
        for detail, spec, x in zip(self._in, self.inputs(), inputs):
            self.interpreter.set_tensor(detail["index"], quantize(x, spec))

    def prepare(self, inputs: list[np.ndarray]) -> Callable[[], Any]:
        """Quantize and bind inputs once; the returned call runs one inference."""
        self._bind(inputs)
        return self.interpreter.invoke

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """One inference on float inputs; outputs dequantized to float32."""
        return self.outputs_call(inputs)()

    def outputs_call(self, inputs: list[np.ndarray]) -> Callable[[], list[np.ndarray]]:
        """Quantize and bind inputs now; the call invokes once and returns every output dequantized to float32."""
        self._bind(inputs)
        invoke, get, outs = self.interpreter.invoke, self.interpreter.get_tensor, self._out

        def call() -> list[np.ndarray]:
            invoke()
            return [dequantize(get(d["index"]), d) for d in outs]

        return call

    def delegation(self) -> dict[str, Any]:
        """How many operators XNNPACK took, which fell back to the builtin kernels, in how many partitions."""
        ops = self.interpreter._get_ops_details()
        original = [o["op_name"] for o in ops if o["op_name"] != "DELEGATE"]
        partitions = sum(o["op_name"] == "DELEGATE" for o in ops)
        report: dict[str, Any] = {"ops": len(original), "partitions": partitions}
        if not partitions:
            return {**report, "delegated": 0, "fallback": dict(Counter(original))}
        if "experimental_disable_delegate_node_fusion" not in inspect.signature(self.module.Interpreter).parameters:
            return {**report, "delegated": None, "fallback": None}
        # The Python API has no execution plan; with node fusion off, each delegated operator becomes its
        # own DELEGATE node with the same outputs, so an original operator without one fell back.
        with captured_output():
            split = self.module.Interpreter(
                model_path=self.path, experimental_disable_delegate_node_fusion=True, **self.kwargs
            )
            split.allocate_tensors()
        split_ops = split._get_ops_details()
        taken = {tuple(o["outputs"]) for o in split_ops if o["op_name"] == "DELEGATE"}
        fallback = [o["op_name"] for o in split_ops if o["op_name"] != "DELEGATE" and tuple(o["outputs"]) not in taken]
        return {**report, "delegated": len(original) - len(fallback), "fallback": dict(Counter(fallback))}

    def info(self) -> dict[str, Any]:
        """Interpreter used, its version, XNNPACK delegation of this artifact, input types."""
        dist = INTERPRETERS[self.flavour][1]
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = None
        info = {
            "interpreter": self.flavour,
            "interpreter_version": version,
            "xnnpack": self.options.xnnpack,
            "delegate": self.options.delegate,
            "delegation": self.delegation(),
            "input_dtypes": [s.dtype for s in self.inputs()],
        }
        if self.flavour == "tflite_runtime":
            info["caveat"] = TFLITE_RUNTIME_CAVEAT
        return info


RUNNERS.register("tflite")(
    RunnerDef(
        name="tflite",
        format="tflite",
        description="TFLite interpreter (ai-edge-litert, else tflite-runtime) with XNNPACK, CPU",
        options=TfliteOptions,
        open=lambda path, threads, options: TfliteSession(path, threads, options),
        distributions=("ai-edge-litert", "tflite-runtime"),
    )
)
