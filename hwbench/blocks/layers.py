"""Small layers shared by the CNN blocks: conv-norm-act, squeeze-excitation, channel LayerNorm."""

from __future__ import annotations

import torch
from torch import nn

_ACTS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "hardswish": nn.Hardswish,
    "identity": nn.Identity,
}


def make_act(name: str) -> nn.Module:
    """Activation module by name."""
    return _ACTS[name]()


class ConvNormAct(nn.Sequential):
    """Conv2d (no bias) → BatchNorm → activation, with 'same' padding for odd kernels."""

    def __init__(
        self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: str = "relu"
    ) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            make_act(act),
        )


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: global pool → reduce → act → expand → sigmoid gate."""

    def __init__(self, channels: int, reduced: int, act: str = "silu") -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, max(1, reduced), 1)
        self.act = make_act(act)
        self.expand = nn.Conv2d(max(1, reduced), channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gate the channels of x."""
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(s))))


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of an NCHW tensor, written with plain reductions.

    Written out (rather than permute + nn.LayerNorm) so ONNX and TFLite see no layout transposes.
    """

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise each pixel's channel vector."""
        centered = x - x.mean(1, keepdim=True)
        var = centered.pow(2).mean(1, keepdim=True)
        # A product with rsqrt, not a division by sqrt: in full-integer int8 the quantized denominator
        # can round to zero, and the int8 DIV kernel then refuses to run (measured on ConvNeXt).
        x = centered * torch.rsqrt(var + self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


def zero_last_norm(module: nn.Module) -> None:
    """Zero the last BatchNorm's scale so a residual block starts as identity (helps short schedules)."""
    norms = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    if norms:
        nn.init.zeros_(norms[-1].weight)


def projection_shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    """A residual block's shortcut: identity, or a strided 1x1 conv + BN where the shape changes (ResNet)."""
    return ConvNormAct(cin, cout, 1, stride, act="identity") if stride != 1 or cin != cout else nn.Identity()
