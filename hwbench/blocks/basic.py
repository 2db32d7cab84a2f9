"""ResNet basic block (ResNet-18/34): two kxk convs, projection shortcut when the shape changes."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from torch import Tensor, nn

from hwbench.blocks import BLOCKS, Act, BlockDef, OddKernel
from hwbench.blocks.layers import ConvNormAct, make_act, projection_shortcut, zero_last_norm
from hwbench.config import Strict


class BasicParams(Strict):
    """Knobs of the basic block."""

    kernel: Annotated[int, Field(ge=1, le=11), OddKernel] = 3
    act: Act = "relu"


class Basic(nn.Module):
    """kxk conv (stride) → kxk conv, added to the input (or its strided 1x1 projection), then the activation."""

    def __init__(self, cin: int, cout: int, stride: int, p: BasicParams) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(cin, cout, p.kernel, stride, act=p.act),
            ConvNormAct(cout, cout, p.kernel, act="identity"),
        )
        zero_last_norm(self.body)
        self.shortcut = projection_shortcut(cin, cout, stride)
        self.act = make_act(p.act)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block."""
        return self.act(self.body(x) + self.shortcut(x))


BLOCKS.register("basic")(
    BlockDef(
        name="basic",
        family="cnn",
        description="ResNet basic block (ResNet-18/34): two kxk convs, projection shortcut",
        params=BasicParams,
        build=lambda cin, cout, stride, p: Basic(cin, cout, stride, p),
    )
)
