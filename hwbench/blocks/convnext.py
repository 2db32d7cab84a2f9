"""ConvNeXt block: depthwise kxk, channel LayerNorm, inverted MLP (1x1 convs, GELU), layer scale."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import Tensor, nn

from hwbench.blocks import BLOCKS, Act, BlockDef, OddKernel
from hwbench.blocks.layers import LayerNorm2d, make_act
from hwbench.config import Strict


class ConvNeXtParams(Strict):
    """Knobs of the ConvNeXt block."""

    kernel: Annotated[int, Field(ge=1, le=13), OddKernel] = 7
    mlp_ratio: float = Field(4.0, gt=0, le=8)
    act: Act = "gelu"
    layer_scale: float = Field(1e-6, ge=0)


class ConvNeXtBlock(nn.Module):
    """A ConvNeXt stage block; the first block of a stage downsamples with LayerNorm + strided conv."""

    def __init__(self, cin: int, cout: int, stride: int, p: ConvNeXtParams) -> None:
        super().__init__()
        # ConvNeXt changes resolution and width between stages, outside the residual branch.
        self.down: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(LayerNorm2d(cin), nn.Conv2d(cin, cout, stride, stride))
        hidden = max(1, round(cout * p.mlp_ratio))
        self.dw = nn.Conv2d(cout, cout, p.kernel, padding=p.kernel // 2, groups=cout)
        self.norm = LayerNorm2d(cout)
        self.pw1 = nn.Conv2d(cout, hidden, 1)
        self.act = make_act(p.act)
        self.pw2 = nn.Conv2d(hidden, cout, 1)
        self.gamma = nn.Parameter(torch.full((cout, 1, 1), p.layer_scale)) if p.layer_scale > 0 else None

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block."""
        x = self.down(x)
        y = self.pw2(self.act(self.pw1(self.norm(self.dw(x)))))
        return x + (y * self.gamma if self.gamma is not None else y)


BLOCKS.register("convnext")(
    BlockDef(
        name="convnext",
        family="cnn",
        description="ConvNeXt: depthwise kxk, LayerNorm, inverted MLP with GELU, layer scale",
        params=ConvNeXtParams,
        build=lambda cin, cout, stride, p: ConvNeXtBlock(cin, cout, stride, p),
        version=2,  # 2: LayerNorm2d multiplies by rsqrt (int8-safe) instead of dividing by sqrt
    )
)
