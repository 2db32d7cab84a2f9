"""Detection losses on tiny hand cases: focal loss, hard-negative mining, GIoU, smooth-L1, normalisation."""

from __future__ import annotations

import math

import pytest
import torch

from hwbench.accuracy.detection.loss import (
    box_loss,
    detection_loss,
    focal_loss,
    generalized_iou,
    hard_negatives,
    ssd_class_loss,
)
from hwbench.accuracy.detection.matching import BACKGROUND, IGNORED, Targets, encode


def targets(labels: list[list[int]], boxes: torch.Tensor | None = None, deltas: torch.Tensor | None = None) -> Targets:
    lab = torch.tensor(labels, dtype=torch.int64)
    b, n = lab.shape
    return Targets(
        lab, torch.zeros(b, n, 4) if boxes is None else boxes, torch.zeros(b, n, 4) if deltas is None else deltas
    )


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_focal_loss_equals_the_hand_formula() -> None:
    # Anchor 0: class 1; anchor 1: background; anchor 2: ignored (contributes nothing whatever its logits).
    logits = torch.tensor([[[0.3, -1.2], [2.0, 0.5], [9.0, 9.0]]])
    got = focal_loss(logits, targets([[1, BACKGROUND, IGNORED]])).item()
    a, g = 0.25, 2.0

    def pos(x: float) -> float:  # CE · (1-p)^γ · α with p the probability of the true class
        p = sigmoid(x)
        return -math.log(p) * (1 - p) ** g * a

    def neg(x: float) -> float:  # for a class that is absent, p is the probability of "not this class"
        p = 1 - sigmoid(x)
        return -math.log(p) * (1 - p) ** g * (1 - a)

    assert got == pytest.approx(neg(0.3) + pos(-1.2) + neg(2.0) + neg(0.5), rel=1e-5)


def test_hard_negative_mining_picks_the_top_three_per_positive() -> None:
    loss = torch.tensor([[0.1, 5.0, 0.9, 0.3, 0.8, 0.2, 7.0, 0.4, 0.85, 0.05]])
    labels = [[2, BACKGROUND, BACKGROUND, BACKGROUND, BACKGROUND, BACKGROUND, IGNORED, BACKGROUND, BACKGROUND, 4]]
    tg = targets(labels)
    chosen = hard_negatives(loss, tg.positive, tg.negative, 3)
    # 2 positives -> 6 negatives: the ignored anchor (loss 7) and the positives are never picked.
    assert chosen[0].nonzero().flatten().tolist() == [1, 2, 3, 4, 7, 8]
    # Fewer negatives than asked: all of them.
    few = targets([[0, 1, BACKGROUND, IGNORED]])
    assert hard_negatives(torch.rand(1, 4), few.positive, few.negative, 3)[0].tolist() == [False, False, True, False]


def test_ssd_class_loss_sums_positives_and_mined_negatives() -> None:
    # 1 positive (class 0 -> logit index 1) and 4 background anchors: the 3 with the largest CE count.
    logits = torch.tensor([[[0.0, 2.0, 0.0], [3.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0], [1.0, 0.0, 0.0]]])
    got = ssd_class_loss(logits, targets([[0] + [BACKGROUND] * 4])).item()

    def ce(row: list[float], k: int) -> float:
        return -row[k] + math.log(sum(math.exp(v) for v in row))

    rows = logits[0].tolist()
    negatives = sorted((ce(r, 0) for r in rows[1:]), reverse=True)[:3]
    assert got == pytest.approx(ce(rows[0], 1) + sum(negatives), rel=1e-5)


def test_giou_identical_is_zero_loss_disjoint_above_one() -> None:
    a = torch.tensor([[0.0, 0, 1, 1], [0, 0, 4, 2]])
    assert (1 - generalized_iou(a, a)).tolist() == pytest.approx([0, 0], abs=1e-6)
    # Disjoint unit squares 1 apart: IoU 0, hull 3, union 2 -> GIoU -1/3.
    disjoint = 1 - generalized_iou(torch.tensor([0.0, 0, 1, 1]), torch.tensor([2.0, 0, 3, 1]))
    assert disjoint.item() == pytest.approx(4 / 3, rel=1e-5) and disjoint.item() > 1
    # Half overlap: IoU 1/3, hull = union -> 2/3 loss.
    half = 1 - generalized_iou(torch.tensor([0.0, 0, 2, 1]), torch.tensor([1.0, 0, 3, 1]))
    assert half.item() == pytest.approx(2 / 3, rel=1e-5)


def test_box_losses_count_positives_only() -> None:
    anchors = torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]])
    gt = torch.tensor([[[1.0, 0, 11, 10], [20, 20, 30, 30]]])
    tg = targets([[0, BACKGROUND]], boxes=gt, deltas=encode(gt, anchors[None]) * torch.tensor([[[1.0], [0.0]]]))
    # Smooth-L1 (beta 1): deltas off by 0.5 and 2 on the positive: 0.5·0.5² + (2 - 0.5); the negative is ignored.
    pred = tg.deltas.clone()
    pred[0, 0, 0] += 0.5
    pred[0, 0, 3] -= 2.0
    pred[0, 1] = 100.0
    assert box_loss(pred, anchors, tg, "smooth_l1").item() == pytest.approx(0.125 + 1.5, rel=1e-5)
    # GIoU on decoded boxes: exact deltas -> 0; the negative's wild deltas do not count.
    exact = tg.deltas.clone()
    exact[0, 1] = 100.0
    assert box_loss(exact, anchors, tg, "giou").item() == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(ValueError, match="smooth_l1, giou"):
        box_loss(exact, anchors, tg, "l2")  # type: ignore[arg-type]


@pytest.mark.parametrize("head,k", [("ssdlite", 4), ("retinanet_lite", 3)])
def test_detection_loss_is_normalised_by_positives_and_trains(head: str, k: int) -> None:
    gen = torch.Generator().manual_seed(0)
    anchors = torch.tensor([[s, 0.0, s + 10, 10] for s in range(0, 60, 3)])
    gt_boxes = [torch.tensor([[0.0, 0, 10, 10], [30, 0, 40, 10]]), torch.zeros((0, 4))]
    gt_labels = [torch.tensor([2, 0]), torch.zeros(0, dtype=torch.int64)]
    logits = torch.randn(2, len(anchors), k, generator=gen, requires_grad=True)
    deltas = torch.randn(2, len(anchors), 4, generator=gen, requires_grad=True)
    total, parts = detection_loss(head, logits, deltas, anchors, gt_boxes, gt_labels, "giou")
    # Anchors shifted by 3 px from a box have IoU 7/13 > 0.5: box 1 has one such neighbour (at 3), box 2 two (27, 33).
    assert parts["positives"].item() == 2 + 3
    assert total.item() == pytest.approx(parts["cls"].item() + parts["box"].item(), rel=1e-6)
    start = detection_loss(head, logits, deltas, anchors, gt_boxes, gt_labels, "smooth_l1")[0].item()
    optimizer = torch.optim.SGD([logits, deltas], lr=0.5)
    for _ in range(30):
        optimizer.zero_grad()
        loss, _ = detection_loss(head, logits, deltas, anchors, gt_boxes, gt_labels, "smooth_l1")
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5 * start
    with pytest.raises(ValueError, match="ssdlite, retinanet_lite"):
        detection_loss("yolo", logits, deltas, anchors, gt_boxes, gt_labels)
