"""One training epoch of a detector: its seeded batches and the optimisation steps over them (shared by the
schedule and the pruning fine-tune)."""

from __future__ import annotations

from typing import Any


def epoch_batches(
    train: Any, gt_boxes: list[Any], gt_labels: list[Any], batch: int, steps: int, generator: Any, channels_last: bool
) -> Any:
    """One epoch of (images, boxes, labels) batches in a seeded order; the last partial batch is dropped."""
    import torch

    order = torch.randperm(len(train), generator=generator)
    for step in range(steps):
        idx = order[step * batch : (step + 1) * batch]
        x = train.images(idx.to(train.device), channels_last)
        yield x, [gt_boxes[i] for i in idx.tolist()], [gt_labels[i] for i in idx.tolist()]


def train_epoch(model: Any, batches: Any, box_kind: Any, optimizer: Any, scheduler: Any) -> dict[str, float]:
    """Train on one epoch's batches; returns the summed loss parts and positives per image."""
    import torch

    from hwbench.accuracy.detection.loss import detection_loss

    sums = {k: torch.zeros((), device=model.anchors.device) for k in ("train_loss", "cls_loss", "box_loss")}
    sums["positives"] = torch.zeros((), device=model.anchors.device)
    for x, boxes, labels in batches:
        cls_logits, box_deltas = model.forward_raw(x)
        loss, parts = detection_loss(model.head_type, cls_logits, box_deltas, model.anchors, boxes, labels, box_kind)
        if hasattr(model, "auxiliary_loss"):  # a pruning ViT detector: its keep-ratio term (0 while selectors are off)
            loss = loss + model.auxiliary_loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        sums["train_loss"] += loss.detach()
        sums["cls_loss"] += parts["cls"]
        sums["box_loss"] += parts["box"]
        sums["positives"] += parts["positives"] / len(boxes)  # per image
    return {k: float(v) for k, v in sums.items()}
