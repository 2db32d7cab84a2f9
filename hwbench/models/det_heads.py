"""One-stage detection heads over a feature pyramid: SSD-lite (per level) and RetinaNet-lite (shared).

Both return (cls_logits [B, N, K], box_deltas [B, N, 4]) with the boxes in the anchors' order: level, y, x,
anchor. Levels with zero anchors get no modules and produce no outputs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from hwbench.blocks.layers import ConvNormAct, make_act

# RetinaNet's prior: every class starts at probability 0.01, so the focal loss is not swamped by background.
PRIOR_PROB = 0.01


def flatten_level(out: Tensor, per_cell: int) -> Tensor:
    """[B, A·k, H, W] → [B, H·W·A, k] in (y, x, anchor) order; 4-D only, so every converter takes it."""
    b, channels, h, w = out.shape
    return out.permute(0, 2, 3, 1).reshape(b, h * w * (channels // per_cell), per_cell)


def extra_level(cin: int, cout: int, act: str, kind: str = "separable") -> nn.Module:
    """An extra pyramid level: depthwise 3x3 stride 2, then pointwise to `cout`; a "bottleneck" first reduces to
    cout // 2 with a 1x1 (SSDLite's extra layers: the depthwise runs on half the output width)."""
    if kind == "bottleneck":
        mid = max(cout // 2, 1)
        return nn.Sequential(
            ConvNormAct(cin, mid, 1, act=act),
            ConvNormAct(mid, mid, 3, 2, groups=mid, act=act),
            ConvNormAct(mid, cout, 1, act=act),
        )
    return nn.Sequential(ConvNormAct(cin, cin, 3, 2, groups=cin, act=act), ConvNormAct(cin, cout, 1, act=act))


def _predictor(cin: int, cout: int, act: str) -> nn.Sequential:
    """Depthwise-separable predictor: depthwise 3x3 + BN + act, then a 1x1 conv with bias."""
    return nn.Sequential(ConvNormAct(cin, cin, 3, groups=cin, act=act), nn.Conv2d(cin, cout, 1))


def init_head(module: nn.Module, cls: list[nn.Conv2d], box: list[nn.Conv2d], cls_bias: float = 0.0) -> None:
    """He-normal convs, then small-normal predictors; class predictors start at bias `cls_bias`."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    for conv in [*cls, *box]:
        nn.init.normal_(conv.weight, std=0.01)
    for conv in cls:
        nn.init.constant_(conv.bias, cls_bias)


class SSDLiteHead(nn.Module):
    """A class and a box predictor per level, each sized to that level's own anchors (K = C + 1)."""

    def __init__(self, channels: list[int], anchors: list[int], k: int, act: str) -> None:
        super().__init__()
        self.k = k
        self.used = [i for i, a in enumerate(anchors) if a]
        self.cls = nn.ModuleList(_predictor(channels[i], anchors[i] * k, act) for i in self.used)
        self.box = nn.ModuleList(_predictor(channels[i], anchors[i] * 4, act) for i in self.used)
        init_head(self, [p[-1] for p in self.cls], [p[-1] for p in self.box])

    def forward(self, feats: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Logits and deltas of every anchor."""
        cls, box = [], []
        for i, cls_pred, box_pred in zip(self.used, self.cls, self.box, strict=True):
            cls.append(flatten_level(cls_pred(feats[i]), self.k))
            box.append(flatten_level(box_pred(feats[i]), 4))
        return torch.cat(cls, 1), torch.cat(box, 1)


class SharedSeparable(nn.Module):
    """Depthwise-separable conv shared by every level, with a BatchNorm per level (as EfficientDet)."""

    def __init__(self, width: int, levels: int, act: str) -> None:
        super().__init__()
        self.dw = nn.Conv2d(width, width, 3, 1, 1, groups=width, bias=False)
        self.pw = nn.Conv2d(width, width, 1, bias=False)
        # Per-level norms: levels differ in statistics, and a shared norm would mix them at inference.
        self.norms = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(levels))
        self.act = make_act(act)

    def forward(self, x: Tensor, level: int) -> Tensor:
        """Apply the shared convs with level `level`'s norm."""
        return self.act(self.norms[level](self.pw(self.dw(x))))


class RetinaNetLiteHead(nn.Module):
    """1x1 laterals to `width`, one tower and two predictors shared across levels (K = C, sigmoid).

    The shared predictors output every anchor shape of the union over levels; a level that lists fewer shapes
    takes its own from them, so only removing a shape from every level shrinks the predictors.
    """

    def __init__(
        self, channels: list[int], anchors: list[list[tuple[float, float]]], k: int, width: int, depth: int, act: str
    ) -> None:
        super().__init__()
        self.k = k
        self.used = [i for i, level in enumerate(anchors) if level]
        shapes = list(dict.fromkeys(a for level in anchors for a in level))  # union, first appearance order
        self.num_shapes = len(shapes)
        self.laterals = nn.ModuleList(nn.Conv2d(channels[i], width, 1) for i in self.used)
        self.tower = nn.ModuleList(SharedSeparable(width, len(self.used), act) for _ in range(depth))
        self.cls = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1, groups=width), nn.Conv2d(width, len(shapes) * k, 1))
        self.box = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1, groups=width), nn.Conv2d(width, len(shapes) * 4, 1))
        self.subsets: list[list[int] | None] = []
        for i in self.used:
            index = [shapes.index(a) for a in anchors[i]]
            self.subsets.append(None if index == list(range(len(shapes))) else index)
        init_head(self, [self.cls[-1]], [self.box[-1]], -math.log((1 - PRIOR_PROB) / PRIOR_PROB))

    def _select(self, out: Tensor, j: int, per_cell: int) -> Tensor:
        """This level's anchors out of the union's outputs, flattened to [B, H·W·A, per_cell]."""
        subset = self.subsets[j]
        if subset is None:
            return flatten_level(out, per_cell)
        b, _, h, w = out.shape
        grid = out.permute(0, 2, 3, 1).reshape(b, h * w, self.num_shapes, per_cell)
        index = torch.tensor(subset, dtype=torch.long, device=out.device)
        return grid.index_select(2, index).reshape(b, h * w * len(subset), per_cell)

    def forward(self, feats: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Logits and deltas of every anchor."""
        cls, box = [], []
        for j, (i, lateral) in enumerate(zip(self.used, self.laterals, strict=True)):
            x = lateral(feats[i])
            for layer in self.tower:
                x = layer(x, j)
            cls.append(self._select(self.cls(x), j, self.k))
            box.append(self._select(self.box(x), j, 4))
        return torch.cat(cls, 1), torch.cat(box, 1)
