"""Anchor matching and the torch box coding, on hand-drawn cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hwbench.accuracy.detection.matching import (
    BACKGROUND,
    IGNORED,
    LOG_SIZE_CLAMP,
    box_iou,
    build_targets,
    decode,
    encode,
    match_anchors,
)
from hwbench.postprocess.boxes import decode as np_decode
from hwbench.postprocess.boxes import encode as np_encode


def t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def test_iou_by_hand() -> None:
    iou = box_iou(t([[0, 0, 10, 10], [0, 0, 5, 5]]), t([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]]))
    # 50 / 150; disjoint; identical / 25 inside 100.
    expected = [[1 / 3, 0, 1], [0, 0, 0.25]]
    np.testing.assert_allclose(iou.numpy(), expected, rtol=1e-6)


def test_encode_by_hand_and_decode_inverts_it() -> None:
    anchor, box = t([[0, 0, 10, 10]]), t([[1, 2, 11, 22]])
    # centres (5,5) -> (6,12), sizes (10,10) -> (10,20), variances 0.1/0.2.
    assert encode(box, anchor)[0].tolist() == pytest.approx([1.0, 7.0, 0.0, math.log(2) / 0.2])
    rng = np.random.default_rng(0)
    xy, wh = rng.uniform(0, 100, (200, 2)), rng.uniform(2, 60, (200, 2))
    boxes = torch.tensor(np.concatenate([xy, xy + wh], 1), dtype=torch.float32)
    xy, wh = rng.uniform(0, 100, (200, 2)), rng.uniform(4, 80, (200, 2))
    anchors = torch.tensor(np.concatenate([xy, xy + wh], 1), dtype=torch.float32)
    assert torch.allclose(decode(encode(boxes, anchors), anchors), boxes, atol=1e-3)


def test_decode_clamps_the_log_sizes() -> None:
    box = decode(t([[0, 0, 1e4, 1e4]]), t([[0, 0, 16, 16]]))[0]
    side = 16 * math.exp(LOG_SIZE_CLAMP)  # 1000 px, not inf
    assert (box[2] - box[0]).item() == pytest.approx(side) and torch.isfinite(box).all()


def test_encode_equals_the_numpy_coding_of_the_measuring_side() -> None:
    rng = np.random.default_rng(1)
    xy, wh = rng.uniform(0, 120, (50, 2)), rng.uniform(1, 70, (50, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    xy, wh = rng.uniform(0, 120, (50, 2)), rng.uniform(4, 90, (50, 2))
    anchors = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    ours = encode(torch.from_numpy(boxes), torch.from_numpy(anchors)).numpy()
    np.testing.assert_allclose(ours, np_encode(boxes, anchors), rtol=1e-5, atol=1e-4)
    deltas = ours * 3  # includes large log-size deltas
    theirs = np_decode(deltas, anchors)
    np.testing.assert_allclose(decode(torch.from_numpy(deltas), torch.from_numpy(anchors)).numpy(), theirs, rtol=1e-5)


# A row of anchors sliding right over gt 0 = [0,0,10,10]: IoU 1, 90/110, 80/120, 70/130, 60/140, 50/150;
# one big anchor barely touching the small gt 1 = [50,50,52,52] (IoU 4/400), one far away.
ANCHORS = [[s, 0, s + 10, 10] for s in range(6)] + [[40, 40, 60, 60], [100, 100, 110, 110]]


def test_matching_by_hand() -> None:
    matched = match_anchors(t(ANCHORS), t([[0, 0, 10, 10], [50, 50, 52, 52]]))
    # IoU >= 0.5 positive; 60/140 = 0.43 ignored; 1/3 background; gt 1 forced onto its best anchor (IoU 0.01).
    assert matched.tolist() == [0, 0, 0, 0, IGNORED, BACKGROUND, 1, BACKGROUND]


def test_every_box_gets_its_best_anchor_the_later_box_wins_a_shared_one() -> None:
    anchors = t([[0, 0, 10, 10], [100, 100, 110, 110]])
    # Both boxes overlap only anchor 0, under the threshold.
    matched = match_anchors(anchors, t([[0, 0, 3, 3], [5, 5, 9, 9]]))
    assert matched.tolist() == [1, BACKGROUND]
    assert match_anchors(anchors, torch.zeros((0, 4))).tolist() == [BACKGROUND, BACKGROUND]


def test_targets_of_a_batch() -> None:
    anchors = t(ANCHORS)
    gt = [t([[0, 0, 10, 10], [50, 50, 52, 52]]), torch.zeros((0, 4))]
    labels = [torch.tensor([7, 3]), torch.zeros(0, dtype=torch.int64)]
    targets = build_targets(anchors, gt, labels)
    assert targets.labels[0].tolist() == [7, 7, 7, 7, IGNORED, BACKGROUND, 3, BACKGROUND]
    assert targets.labels[1].tolist() == [BACKGROUND] * len(ANCHORS)
    assert targets.positive.sum().item() == 5 and targets.negative.sum().item() == 2 + len(ANCHORS)
    assert targets.boxes[0, 6].tolist() == [50, 50, 52, 52]
    # Deltas: the encoded box on positives, exactly zero elsewhere.
    assert torch.allclose(targets.deltas[0, 1], encode(gt[0][0], anchors[1]))
    assert (targets.deltas[~targets.positive] == 0).all()
