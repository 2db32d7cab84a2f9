"""MobileNetV2 inverted residual (mbconv) and its squeeze-excitation variant (mbconv_se)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from torch import Tensor, nn

from hwbench.blocks import BLOCKS, Act, BlockDef, OddKernel
from hwbench.blocks.layers import ConvNormAct, SqueezeExcite, zero_last_norm
from hwbench.config import Strict


class MBConvParams(Strict):
    """Knobs of the inverted residual."""

    expansion: int = Field(6, ge=1, le=16)
    kernel: Annotated[int, Field(ge=1, le=11), OddKernel] = 3
    act: Act = "relu6"


class MBConvSEParams(MBConvParams):
    """Inverted residual knobs plus the squeeze-excitation ratio (of the block's input width)."""

    act: Act = "silu"
    se_ratio: float = Field(0.25, gt=0, le=1)


class MBConv(nn.Module):
    """1x1 expand → kxk depthwise → (SE) → 1x1 linear projection, residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int, p: MBConvParams, se_ratio: float | None) -> None:
        super().__init__()
        mid = cin * p.expansion
        layers: list[nn.Module] = []
        if p.expansion != 1:
            layers.append(ConvNormAct(cin, mid, 1, act=p.act))
        layers.append(ConvNormAct(mid, mid, p.kernel, stride, groups=mid, act=p.act))
        if se_ratio is not None:
            layers.append(SqueezeExcite(mid, round(cin * se_ratio), act=p.act))
        layers.append(ConvNormAct(mid, cout, 1, act="identity"))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout
        if self.residual:
            zero_last_norm(self.body)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block."""
        y = self.body(x)
        return x + y if self.residual else y


BLOCKS.register("mbconv")(
    BlockDef(
        name="mbconv",
        family="cnn",
        description="MobileNetV2 inverted residual: 1x1 expand, kxk depthwise, 1x1 linear bottleneck",
        params=MBConvParams,
        build=lambda cin, cout, stride, p: MBConv(cin, cout, stride, p, None),
    )
)

BLOCKS.register("mbconv_se")(
    BlockDef(
        name="mbconv_se",
        family="cnn",
        description="Inverted residual with squeeze-excitation after the depthwise conv (EfficientNet MBConv)",
        params=MBConvSEParams,
        build=lambda cin, cout, stride, p: MBConv(cin, cout, stride, p, p.se_ratio),
    )
)
