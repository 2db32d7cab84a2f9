"""PyTorch eager CPU runner: runs a torch.export program (.pt2) op by op, no compilation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwbench.runners import RUNNERS, RunnerDef, Session, TensorSpec


@dataclass(frozen=True)
class TorchOptions:
    """PyTorch runner knobs (threads come from the target)."""

    __pydantic_config__ = {"extra": "forbid"}  # read by pydantic when validating targets

    channels_last: bool = False


class TorchSession(Session):
    """The exported program's module under inference_mode."""

    def __init__(self, path: str, threads: int, options: TorchOptions) -> None:
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        program = torch.export.load(path)
        self.module = program.module()
        self.options = options
        self._specs = []
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
