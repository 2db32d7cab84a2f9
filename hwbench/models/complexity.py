"""Complexity counted from the built module: MACs, parameters and activations."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from hwbench.space.archspec import ArchSpec

aten = torch.ops.aten

# Ops whose outputs count as activations (pycls convention: outputs of convs and matrix products).
_ACT_OPS = {
    aten.convolution,
    aten.mm,
    aten.addmm,
    aten.bmm,
    aten.baddbmm,
    aten._scaled_dot_product_efficient_attention,
    aten._scaled_dot_product_flash_attention_for_cpu,
    aten._scaled_dot_product_flash_attention,
}


@dataclass(frozen=True)
class Complexity:
    """Multiply-accumulates, parameters and activations of one forward pass at batch 1."""

    macs: int
    params: int
    acts: int

    def as_dict(self) -> dict[str, int]:
        """Plain dict."""
        return asdict(self)


class _ActCounter(TorchDispatchMode):
    """Sums the element counts of the outputs of conv and matmul ops."""

    def __init__(self) -> None:
        super().__init__()
        self.acts = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket in _ACT_OPS:
            first = out[0] if isinstance(out, (tuple, list)) else out
            self.acts += first.numel()
        return out


def count(model: nn.Module, x: torch.Tensor) -> Complexity:
    """Count MACs (FLOPs/2 as torch's counter reports 2 per MAC) and activations in one forward pass."""
    flops = FlopCounterMode(display=False)
    acts = _ActCounter()
    with torch.no_grad(), flops, acts:
        model(x)
    params = sum(p.numel() for p in model.parameters())
    return Complexity(macs=int(flops.get_total_flops() // 2), params=int(params), acts=int(acts.acts))


def complexity(spec: ArchSpec) -> Complexity:
    """Complexity of a spec, counted on the meta device (no memory, no weights)."""
    return _complexity(spec.canonical_json)


# A spec's complexity never changes, and sampling asks again for every duplicate draw, every resumed sweep
# and, in the ViT family, for the backbone every token-reduced space shares.
@lru_cache(maxsize=4096)
def _complexity(spec_json: str) -> Complexity:
    from hwbench.models import build_model, example_input

    spec = ArchSpec.from_json(spec_json)
    model = build_model(spec, device="meta")
    x = example_input(spec).to("meta")
    return count(model, x)
