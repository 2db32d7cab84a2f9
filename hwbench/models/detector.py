"""Build a one-stage detector from a DetArch: the CNN backbone's stem and stages, a feature pyramid (chosen
stages + extra stride-2 levels), an SSD-lite or RetinaNet-lite head, and box decoding inside the graph."""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor, nn

from hwbench.blocks.mbconv import MBConv
from hwbench.models.cnn import CNN
from hwbench.models.det_heads import RetinaNetLiteHead, SSDLiteHead, extra_level
from hwbench.space.archspec import ArchSpec
from hwbench.space.detection import DetArch, anchor_boxes, pyramid
from hwbench.space.detection import num_boxes as arch_num_boxes

# The shared box coding (SSD style): centre deltas scaled by 0.1 × anchor size, log-size deltas by 0.2.
CENTRE_VARIANCE = 0.1
SIZE_VARIANCE = 0.2
# Log-size deltas are clamped before exp (as torchvision does) so an untrained head cannot overflow.
MAX_LOG_SIZE = math.log(1000.0 / 16)


def decode_boxes(deltas: Tensor, anchors: Tensor) -> Tensor:
    """Deltas [..., N, 4] on anchors [N, 4] xyxy → boxes [..., N, 4] xyxy (the shared box coding)."""
    sizes = anchors[:, 2:] - anchors[:, :2]
    return _decode(deltas, anchors[:, :2] + 0.5 * sizes, sizes)


def _decode(deltas: Tensor, centres: Tensor, sizes: Tensor) -> Tensor:
    """Decode with precomputed anchor centres and sizes ([N, 2] each)."""
    centre = centres + deltas[..., :2] * (CENTRE_VARIANCE * sizes)
    size = sizes * torch.exp(torch.clamp(deltas[..., 2:] * SIZE_VARIANCE, max=MAX_LOG_SIZE))
    return torch.cat([centre - 0.5 * size, centre + 0.5 * size], dim=-1)


class OneStageDetector(nn.Module):
    """What every detector family shares after its pyramid: the head's raw outputs and the exported graph's
    (boxes, scores); a family supplies `features`, `decode` and the `head`."""

    head: nn.Module
    head_type: str

    def features(self, x: Tensor) -> list[Tensor]:
        """Pyramid features in level order."""
        raise NotImplementedError

    def decode(self, deltas: Tensor) -> Tensor:
        """Box deltas [B, N, 4] → boxes [B, N, 4] xyxy input pixels."""
        raise NotImplementedError

    def forward_raw(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(cls_logits [B, N, K], box_deltas [B, N, 4]); K = C + 1 (ssdlite, 0 = background) or C."""
        return self.head(self.features(x))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(boxes [B, N, 4] xyxy input pixels, scores [B, N, C]): the exported graph."""
        logits, deltas = self.forward_raw(x)
        boxes = self.decode(deltas)
        if self.head_type == "ssdlite":
            return boxes, torch.softmax(logits, dim=-1)[..., 1:]
        return boxes, torch.sigmoid(logits)


def extras_needed(levels: list[Any], per_level: list[int], chosen: int) -> int:
    """Extra levels to build after the `chosen` ones: those past the last extra with anchors feed nothing."""
    extras = [j for j, lv in enumerate(levels) if lv.stage is None and per_level[j]]
    return extras[-1] - chosen + 1 if extras else 0


def make_head(arch: Any, channels: list[int]) -> nn.Module:
    """The arch's SSD-lite or RetinaNet-lite head over pyramid levels of `channels` (either family)."""
    per_level, head = arch.anchors.per_level, arch.head
    if head.type == "ssdlite":
        return SSDLiteHead(channels, per_level, arch.num_classes + 1, head.act)
    shapes = [[(a.scale, a.ratio) for a in level] for level in arch.anchors.levels]
    return RetinaNetLiteHead(channels, shapes, arch.num_classes, head.width, head.depth, head.act)


def kaiming_init(modules: Iterable[nn.Module]) -> None:
    """He-normal (fan-out) weights for the convs among `modules` that no backbone initialised."""
    for m in modules:
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def run_extras(feats: list[Tensor], x: Tensor, extras: nn.ModuleList) -> list[Tensor]:
    """Append each extra level to `feats`, each computed from the one before (the first from `x`)."""
    for extra in extras:
        x = extra(x)
        feats.append(x)
    return feats


class Detector(OneStageDetector):
    """Backbone → pyramid → head; `forward` also decodes boxes and turns logits into class scores."""

    anchors: Tensor

    def __init__(self, arch: DetArch) -> None:
        super().__init__()
        self.num_classes = arch.num_classes
        self.head_type = arch.head.type
        cnn = CNN(arch.backbone)  # reused for its stem and stages; its classifier head is dropped
        self.stem, self.stages = cnn.stem, cnn.stages
        # The backbone's 1x1 head conv, when it feeds the last level and the extras (SSDLite's layer 19).
        self.backbone_head: nn.Module | None = cnn.head if arch.head.backbone_head else None
        self.feature_stages = list(arch.head.levels)
        self.expansion_stages = list(arch.head.expansion_levels)
        for i in self.expansion_stages:
            if not isinstance(self.stages[i][0], MBConv):
                raise ValueError(f"head.expansion_levels: stage {i}'s first block is not an inverted residual")
        levels = pyramid(arch)
        per_level = arch.anchors.per_level
        needed = extras_needed(levels, per_level, len(self.feature_stages))
        # Without extras, the stages after the last level with anchors feed nothing: `features` stops there
        # (the modules stay, so a pruned detector still loads its parent's weights).
        used = [j for j in range(len(self.feature_stages)) if per_level[j]]
        self.levels_read = len(self.feature_stages) if needed else used[-1] + 1
        cin = arch.backbone.head.width if arch.head.backbone_head else arch.backbone.stages[-1].width
        self.extras = nn.ModuleList()
        for j in range(needed):
            width = arch.head.extra_width(j)
            self.extras.append(extra_level(cin, width, arch.head.act, arch.head.extra_type))
            cin = width
        self.head = make_head(arch, [lv.channels for lv in levels])
        kaiming_init(self.extras.modules())
        anchors = torch.as_tensor(anchor_boxes(arch))
        sizes = anchors[:, 2:] - anchors[:, :2]
        # Not persistent: anchors follow from the arch, so weight files hold only learned tensors.
        self.register_buffer("anchors", anchors, persistent=False)
        self.register_buffer("anchor_centres", anchors[:, :2] + 0.5 * sizes, persistent=False)
        self.register_buffer("anchor_sizes", sizes, persistent=False)

    def features(self, x: Tensor) -> list[Tensor]:
        """Pyramid features in level order, up to the last one the head or the extras read."""
        x = self.stem(x)
        feats: list[Tensor] = []
        for i, stage in enumerate(self.stages):
            if i in self.expansion_stages:  # the first block's 1x1 expansion is the level; the block goes on
                first = stage[0]
                expanded = first.body[0](x)
                feats.append(expanded)
                if len(feats) == self.levels_read and not self.extras:
                    return feats
                y = first.body[1:](expanded)
                x = stage[1:](x + y if first.residual else y)
            else:
                x = stage(x)
                if i == len(self.stages) - 1 and self.backbone_head is not None:
                    x = self.backbone_head(x)
                if i in self.feature_stages:
                    feats.append(x)
                if len(feats) == self.levels_read and not self.extras:
                    return feats
        return run_extras(feats, x, self.extras)

    def decode(self, deltas: Tensor) -> Tensor:
        """Boxes from the precomputed anchor centres and sizes (no anchor arithmetic in the graph)."""
        return _decode(deltas, self.anchor_centres, self.anchor_sizes)


def build_detector(arch: DetArch) -> Detector:
    """Builder registered for the det family."""
    return Detector(arch)


def num_boxes(spec: ArchSpec) -> int:
    """Boxes the detector predicts per image (from its anchors and feature sizes)."""
    return arch_num_boxes(spec.arch)  # type: ignore[arg-type]


def head_macs(spec: ArchSpec) -> int:
    """MACs of the head alone (laterals, tower, predictors; not the backbone or extra levels) at batch 1."""
    return _head_macs(spec.canonical_json)


@lru_cache(maxsize=1024)
def _head_macs(spec_json: str) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    from hwbench.models import build_model, example_input

    spec = ArchSpec.from_json(spec_json)
    model = build_model(spec, device="meta")
    with torch.no_grad():
        feats = model.features(example_input(spec).to("meta"))  # type: ignore[operator]
        counter = FlopCounterMode(display=False)
        with counter:
            model.head(feats)  # type: ignore[operator]
    return int(counter.get_total_flops() // 2)
