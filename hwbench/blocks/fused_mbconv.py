"""Fused-MBConv (EfficientNetV2): the expansion and depthwise convs fused into one dense kxk conv."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from torch import Tensor, nn

from hwbench.blocks import BLOCKS, Act, BlockDef, OddKernel
from hwbench.blocks.layers import ConvNormAct, zero_last_norm
from hwbench.config import Strict


class FusedMBConvParams(Strict):
    """Knobs of the fused inverted residual."""

    expansion: int = Field(4, ge=1, le=16)
    kernel: Annotated[int, Field(ge=1, le=11), OddKernel] = 3
    act: Act = "silu"


class FusedMBConv(nn.Module):
    """kxk dense expand (stride) → 1x1 linear projection; with expansion 1 a single kxk conv."""

    def __init__(self, cin: int, cout: int, stride: int, p: FusedMBConvParams) -> None:
        super().__init__()
        if p.expansion == 1:
            self.body = nn.Sequential(ConvNormAct(cin, cout, p.kernel, stride, act=p.act))
        else:
            mid = cin * p.expansion
            self.body = nn.Sequential(
                ConvNormAct(cin, mid, p.kernel, stride, act=p.act),
                ConvNormAct(mid, cout, 1, act="identity"),
            )
        self.residual = stride == 1 and cin == cout
        if self.residual:
            zero_last_norm(self.body)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block."""
        y = self.body(x)
        return x + y if self.residual else y


BLOCKS.register("fused_mbconv")(
    BlockDef(
        name="fused_mbconv",
        family="cnn",
        description="Fused-MBConv (EfficientNetV2): dense kxk expansion conv, 1x1 linear projection",
        params=FusedMBConvParams,
        build=lambda cin, cout, stride, p: FusedMBConv(cin, cout, stride, p),
    )
)
