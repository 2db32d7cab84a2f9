"""ResNet basic block (ResNet-18/34): two kxk convs, projection shortcut when the shape changes."""

from __future__ import annotations

from pydantic import Field, field_validator
from torch import Tensor, nn

from hwbench.blocks import BLOCKS, Act, BlockDef
from hwbench.blocks.layers import ConvNormAct, make_act, zero_last_norm
from hwbench.config import Strict


class BasicParams(Strict):
    """Knobs of the basic block."""

    kernel: int = Field(3, ge=1, le=11)
    act: Act = "relu"

    @field_validator("kernel")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"kernel must be odd, got {value}")
        return value


class Basic(nn.Module):
    """kxk conv (stride) → kxk conv, added to the input (or its strided 1x1 projection), then the activation."""

    def __init__(self, cin: int, cout: int, stride: int, p: BasicParams) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(cin, cout, p.kernel, stride, act=p.act),
            ConvNormAct(cout, cout, p.kernel, act="identity"),
        )
        zero_last_norm(self.body)
        self.shortcut = (
            ConvNormAct(cin, cout, 1, stride, act="identity") if stride != 1 or cin != cout else nn.Identity()
        )
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
