"""PyTorch eager CPU runner: runs a torch.export program (.pt2) op by op, no compilation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwbench.measure.canary import CHANNELS, INPUT_SHAPE, OUTPUT_SHAPE, SPATIAL, canary_weights
from hwbench.runners import RUNNERS, RunnerDef, Session, TensorSpec


@dataclass(frozen=True)
class TorchOptions:
    """PyTorch runner knobs (threads come from the target)."""

    __pydantic_config__ = {"extra": "forbid"}  # read by pydantic when validating targets

    channels_last: bool = False


class TorchSession(Session):
    """The exported program's module under inference_mode."""

    def __init__(self, path: str | None, threads: int, options: TorchOptions, module: Any = None) -> None:
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        self.options = options
        self._specs: list[TensorSpec] = []
        if module is not None:  # the canary: a module built here, its one input of the canary's shape
            self.module = module
            self._specs = [TensorSpec("input0", INPUT_SHAPE, "float32")]
            return
        program = torch.export.load(path)
        self.module = program.module()
        for i, node in enumerate(n for n in program.graph.nodes if n.op == "placeholder"):
            if node.name in program.graph_signature.user_inputs:
                meta = node.meta["val"]
                self._specs.append(TensorSpec(f"input{i}", tuple(meta.shape), str(meta.dtype).removeprefix("torch.")))

    def inputs(self) -> list[TensorSpec]:
        """Input tensors of the program."""
        return self._specs

    def _tensors(self, inputs: list[np.ndarray]) -> list[Any]:
        tensors = [self.torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) for x in inputs]
        if self.options.channels_last:
            tensors = [t.contiguous(memory_format=self.torch.channels_last) if t.dim() == 4 else t for t in tensors]
        return tensors

    def prepare(self, inputs: list[np.ndarray]) -> Callable[[], Any]:
        """Bind inputs; the returned call runs one inference without autograd."""
        tensors = self._tensors(inputs)
        module, mode = self.module, self.torch.inference_mode

        def call() -> Any:
            with mode():
                return module(*tensors)

        return call

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """One inference on float inputs."""
        with self.torch.inference_mode():
            out = self.module(*self._tensors(inputs))
        outs = out if isinstance(out, (tuple, list)) else [out]
        return [o.numpy() for o in outs]

    def outputs_call(self, inputs: list[np.ndarray]) -> Callable[[], list[np.ndarray]]:
        """Bind inputs now; the call runs one inference and returns every output as float32 numpy."""
        infer = self.prepare(inputs)

        def call() -> list[np.ndarray]:
            out = infer()
            outs = out if isinstance(out, (tuple, list)) else [out]
            return [o.numpy().astype(np.float32, copy=False) for o in outs]

        return call


def canary_module() -> Any:
    """The canary network (measure.canary) as an eval-mode torch module with its fixed weights."""
    import torch
    from torch import nn

    w = canary_weights()

    class Canary(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            inputs = (INPUT_SHAPE[1], CHANNELS, CHANNELS)
            self.convs = nn.ModuleList(nn.Conv2d(c, CHANNELS, 3, padding=1) for c in inputs)
            with torch.no_grad():
                for i, conv in enumerate(self.convs, start=1):
                    conv.weight.copy_(torch.from_numpy(w[f"w{i}"]))
                    conv.bias.copy_(torch.from_numpy(w[f"b{i}"]))
            self.register_buffer("fc", torch.from_numpy(w["fc"]))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for conv in self.convs:
                x = torch.relu(conv(x))
            return x.reshape(OUTPUT_SHAPE[0], SPATIAL) @ self.fc

    return Canary().eval()


def open_canary(threads: int, options: TorchOptions) -> TorchSession:
    """The canary in a TorchSession (eager, like a loaded program's module: no export needed at measuring time)."""
    return TorchSession(None, threads, options, module=canary_module())


RUNNERS.register("torch")(
    RunnerDef(
        name="torch",
        format="torch",
        description="PyTorch eager on the CPU (torch.export program, no compilation)",
        options=TorchOptions,
        open=lambda path, threads, options: TorchSession(path, threads, options),
        distributions=("torch",),
    )
)
