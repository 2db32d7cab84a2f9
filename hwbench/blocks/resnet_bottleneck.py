"""ResNet/ResNeXt bottleneck (pycls X block): 1x1 reduce, grouped kxk, 1x1 expand, projection shortcut."""

from __future__ import annotations

from pydantic import Field
from torch import Tensor, nn

from hwbench.blocks import BLOCKS, Act, BlockDef
from hwbench.blocks.layers import ConvNormAct, make_act, projection_shortcut, zero_last_norm
from hwbench.config import Strict


class BottleneckParams(Strict):
    """Knobs of the bottleneck: width ratio of the inner convs and the group width of the kxk conv."""

    bottleneck_ratio: float = Field(0.25, gt=0, le=4)
    group_width: int = Field(16, ge=1, le=1024)
    kernel: int = Field(3, ge=1, le=7)
    act: Act = "relu"


def inner_width(cout: int, ratio: float, group_width: int) -> tuple[int, int]:
    """Inner width rounded to a multiple of the group width (as pycls does), and the group count."""
    inner = max(1, round(cout * ratio))
    gw = min(group_width, inner)
    inner = max(gw, round(inner / gw) * gw)
    return inner, inner // gw


class Bottleneck(nn.Module):
    """Residual bottleneck; the shortcut is a strided 1x1 conv + BN when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int, p: BottleneckParams) -> None:
        super().__init__()
        mid, groups = inner_width(cout, p.bottleneck_ratio, p.group_width)
        self.body = nn.Sequential(
            ConvNormAct(cin, mid, 1, act=p.act),
            ConvNormAct(mid, mid, p.kernel, stride, groups=groups, act=p.act),
            ConvNormAct(mid, cout, 1, act="identity"),
        )
        zero_last_norm(self.body)
        self.shortcut = projection_shortcut(cin, cout, stride)
        self.act = make_act(p.act)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block."""
        return self.act(self.body(x) + self.shortcut(x))


BLOCKS.register("resnet_bottleneck")(
    BlockDef(
        name="resnet_bottleneck",
        family="cnn",
        description="ResNet/ResNeXt bottleneck: 1x1 reduce, grouped kxk (group width), 1x1 expand, shortcut",
        params=BottleneckParams,
        build=lambda cin, cout, stride, p: Bottleneck(cin, cout, stride, p),
    )
)
