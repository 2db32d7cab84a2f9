"""Detection losses (torch): SSD loss with hard-negative mining, focal loss, smooth-L1 or GIoU box loss.

Every loss is a sum over anchors divided by the number of positive anchors in the batch (at least 1), so the
class and box terms are on the same scale whatever the number of anchors.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from hwbench.accuracy.detection.matching import IGNORED, Targets, box_area, build_targets, decode

BOX_LOSSES = ("smooth_l1", "giou")
HEAD_TYPES = ("ssdlite", "retinanet_lite")
NEGATIVES_PER_POSITIVE = 3
FOCAL_ALPHA = 0.25
FOCAL_GAMMA = 2.0
# Smooth-L1 switches from quadratic to linear at this |delta| (the SSD paper's choice).
SMOOTH_L1_BETA = 1.0


def hard_negatives(loss: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, ratio: int) -> torch.Tensor:
    """[B, N] bool: per image, the `ratio`×positives negatives with the largest loss (ties: lower index first)."""
    # Non-candidates sort last; a stable sort keeps equal losses in anchor order, so the pick is deterministic.
    ranked = torch.where(negative, loss.detach(), torch.full_like(loss, -torch.inf))
    order = torch.sort(ranked, dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(order.shape[1], device=loss.device).expand_as(order))
    wanted = torch.minimum(ratio * positive.sum(dim=1, keepdim=True), negative.sum(dim=1, keepdim=True))
    return negative & (rank < wanted)


def ssd_class_loss(logits: torch.Tensor, targets: Targets, ratio: int = NEGATIVES_PER_POSITIVE) -> torch.Tensor:
    """Softmax cross-entropy on positives plus the hardest negatives (background = class 0), summed."""
    # Classes shift by one: logits[..., 0] is background.
    wanted = torch.where(targets.positive, targets.labels + 1, torch.zeros_like(targets.labels))
    ce = F.cross_entropy(logits.flatten(0, 1), wanted.flatten(), reduction="none").view_as(wanted).float()
    chosen = targets.positive | hard_negatives(ce, targets.positive, targets.negative, ratio)
    return (ce * chosen).sum()


def focal_loss(
    logits: torch.Tensor, targets: Targets, alpha: float = FOCAL_ALPHA, gamma: float = FOCAL_GAMMA
) -> torch.Tensor:
    """Sigmoid focal loss over every class of every non-ignored anchor, summed."""
    num_classes = logits.shape[-1]
    onehot = F.one_hot(targets.labels.clamp(min=0), num_classes).to(logits.dtype)
    onehot = onehot * targets.positive[..., None]
    ce = F.binary_cross_entropy_with_logits(logits, onehot, reduction="none")
    p = torch.sigmoid(logits)
    p_true = p * onehot + (1 - p) * (1 - onehot)
    alpha_t = alpha * onehot + (1 - alpha) * (1 - onehot)
    loss = alpha_t * (1 - p_true) ** gamma * ce
    return (loss * (targets.labels != IGNORED)[..., None]).sum()


def generalized_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """GIoU of paired xyxy boxes [..., 4]: IoU minus the share of the enclosing box that neither covers."""
    inter_wh = (torch.minimum(a[..., 2:], b[..., 2:]) - torch.maximum(a[..., :2], b[..., :2])).clamp(min=0)
    inter = inter_wh[..., 0] * inter_wh[..., 1]
    union = box_area(a) + box_area(b) - inter
    hull_wh = torch.maximum(a[..., 2:], b[..., 2:]) - torch.minimum(a[..., :2], b[..., :2])
    hull = hull_wh[..., 0] * hull_wh[..., 1]
    eps = 1e-7
    return inter / (union + eps) - (hull - union) / (hull + eps)


def box_loss(
    deltas: torch.Tensor, anchors: torch.Tensor, targets: Targets, kind: Literal["smooth_l1", "giou"]
) -> torch.Tensor:
    """Box regression summed over positive anchors: smooth-L1 on deltas, or 1 - GIoU on decoded boxes."""
    pos = targets.positive
    if kind == "smooth_l1":
        diff = F.smooth_l1_loss(deltas[pos], targets.deltas[pos], reduction="none", beta=SMOOTH_L1_BETA)
        return diff.sum()
    if kind == "giou":
        anchor_grid = anchors[None].expand_as(deltas)
        return (1 - generalized_iou(decode(deltas[pos], anchor_grid[pos]), targets.boxes[pos])).sum()
    raise ValueError(f"unknown box loss {kind!r}; valid: {', '.join(BOX_LOSSES)}")


def detection_loss(
    head_type: str,
    cls_logits: torch.Tensor,
    box_deltas: torch.Tensor,
    anchors: torch.Tensor,
    gt_boxes: list[torch.Tensor],
    gt_labels: list[torch.Tensor],
    box_kind: Literal["smooth_l1", "giou"] = "smooth_l1",
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The training loss of a batch for a head type; also its class/box parts and positive count (detached)."""
    targets = build_targets(anchors, gt_boxes, gt_labels)
    # A tensor, not a Python int: no device sync per step on a GPU.
    num_pos = targets.positive.sum().clamp(min=1).to(cls_logits.dtype)
    if head_type == "ssdlite":
        cls = ssd_class_loss(cls_logits, targets)
    elif head_type == "retinanet_lite":
        cls = focal_loss(cls_logits, targets)
    else:
        raise ValueError(f"unknown head type {head_type!r}; valid: {', '.join(HEAD_TYPES)}")
    box = box_loss(box_deltas, anchors, targets, box_kind)
    total = (cls + box) / num_pos
    parts = {"cls": cls.detach() / num_pos, "box": box.detach() / num_pos, "positives": num_pos.detach()}
    return total, parts
