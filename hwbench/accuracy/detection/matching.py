"""Anchor matching and box coding for training (torch): IoU matching per image, SSD-style deltas.

The box coding is the shared one (hwbench.postprocess.boxes does the same in numpy for the measuring side):
deltas = ((gcx-acx)/(0.1·aw), (gcy-acy)/(0.1·ah), log(gw/aw)/0.2, log(gh/ah)/0.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

VARIANCES = (0.1, 0.1, 0.2, 0.2)
# Decoding clamps the log-size deltas here before exp, as torchvision does, so a wild prediction cannot overflow.
LOG_SIZE_CLAMP = math.log(1000.0 / 16)
POSITIVE_IOU = 0.5
NEGATIVE_IOU = 0.4
# Values of a matched index that are not a ground-truth index.
BACKGROUND = -1
IGNORED = -2


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas of xyxy boxes [..., 4] (zero for inverted boxes)."""
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every box in a [N,4] with every box in b [M,4] -> [N,M] (xyxy)."""
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter / union.clamp(min=1e-12)


def _centre_size(boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    w = boxes[..., 2] - boxes[..., 0]
    h = boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + 0.5 * w, boxes[..., 1] + 0.5 * h, w, h


def encode(boxes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Deltas [..., 4] that turn each anchor into its box (both xyxy, broadcastable)."""
    gx, gy, gw, gh = _centre_size(boxes)
    ax, ay, aw, ah = _centre_size(anchors)
    return torch.stack(
        (
            (gx - ax) / (VARIANCES[0] * aw),
            (gy - ay) / (VARIANCES[1] * ah),
            torch.log(gw / aw) / VARIANCES[2],
            torch.log(gh / ah) / VARIANCES[3],
        ),
        dim=-1,
    )


def decode(deltas: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Boxes xyxy [..., 4] from deltas and anchors (the inverse of `encode`, log-sizes clamped)."""
    ax, ay, aw, ah = _centre_size(anchors)
    cx = ax + deltas[..., 0] * VARIANCES[0] * aw
    cy = ay + deltas[..., 1] * VARIANCES[1] * ah
    w = aw * torch.exp((deltas[..., 2] * VARIANCES[2]).clamp(max=LOG_SIZE_CLAMP))
    h = ah * torch.exp((deltas[..., 3] * VARIANCES[3]).clamp(max=LOG_SIZE_CLAMP))
    return torch.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)


def match_anchors(
    anchors: torch.Tensor, gt_boxes: torch.Tensor, positive: float = POSITIVE_IOU, negative: float = NEGATIVE_IOU
) -> torch.Tensor:
    """Per anchor, the index of its ground-truth box, BACKGROUND (IoU < negative) or IGNORED (in between).

    Every ground-truth box also gets its best anchor (lowest index on ties) as a positive whatever the IoU, so a
    box no anchor fits well still trains one; where two boxes claim the same best anchor, the later box wins.
    """
    n = anchors.shape[0]
    if gt_boxes.shape[0] == 0:
        return torch.full((n,), BACKGROUND, dtype=torch.int64, device=anchors.device)
    iou = box_iou(anchors, gt_boxes)  # [N, G]
    best_iou, matched = iou.max(dim=1)
    matched = torch.where(best_iou >= positive, matched, torch.full_like(matched, IGNORED))
    matched = torch.where(best_iou < negative, torch.full_like(matched, BACKGROUND), matched)
    best_anchor = iou.argmax(dim=0)  # [G]: first maximum, deterministic
    matched[best_anchor] = torch.arange(gt_boxes.shape[0], device=anchors.device)
    return matched


@dataclass
class Targets:
    """Training targets of a batch: per anchor a class (-1 background, -2 ignored) and its matched box."""

    labels: torch.Tensor  # [B, N] int64: 0..C-1 on positives, BACKGROUND, IGNORED
    boxes: torch.Tensor  # [B, N, 4] xyxy of the matched box (the anchor itself where not positive)
    deltas: torch.Tensor  # [B, N, 4] encoded boxes (zero where not positive)

    @property
    def positive(self) -> torch.Tensor:
        """[B, N] bool: anchors matched to an object."""
        return self.labels >= 0

    @property
    def negative(self) -> torch.Tensor:
        """[B, N] bool: anchors that are background."""
        return self.labels == BACKGROUND


def build_targets(
    anchors: torch.Tensor,
    gt_boxes: list[torch.Tensor],
    gt_labels: list[torch.Tensor],
    positive: float = POSITIVE_IOU,
    negative: float = NEGATIVE_IOU,
) -> Targets:
    """Match every image of a batch and encode its positives' boxes against their anchors."""
    labels, boxes = [], []
    for img_boxes, img_labels in zip(gt_boxes, gt_labels, strict=True):
        matched = match_anchors(anchors, img_boxes, positive, negative)
        pos = matched >= 0
        safe = matched.clamp(min=0)
        if img_boxes.shape[0]:
            label = torch.where(pos, img_labels[safe], matched)
            box = torch.where(pos[:, None], img_boxes[safe], anchors)
        else:
            label, box = matched, anchors.clone()
        labels.append(label)
        boxes.append(box)
    label_t, box_t = torch.stack(labels), torch.stack(boxes)
    # Non-positives hold their own anchor as "box": encode gives exact zeros there, and no log of 0.
    deltas = encode(box_t, anchors[None])
    return Targets(label_t, box_t, deltas)
