"""LTMP's training for a ViT detector (det_vit_ltmp), as the classification trainer trains LTMP (docs/vit.md).

The detector starts from its dense counterpart's initial weights and trains the schedule with its LTMP blocks off
(the plain block), so up to there it *is* the dense detector and may take its trained weights (as det_vit_prune);
then one more epoch trains only the per-block thresholds from their knob values: the network frozen (BatchNorm
statistics included), SGD with LTMP's merge and prune learning rates, cosine to 0, thresholds clamped to [0, 1],
loss = detection loss + λ·(r_FLOPs − flops_target)² (hard masks forward, sigmoid surrogate backward).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any


def is_ltmp(model: Any) -> bool:
    """Whether the detector's backbone is made of LTMP blocks."""
    from hwbench.blocks.vit_ltmp import LTMPBlock

    blocks = model.token_blocks() if hasattr(model, "token_blocks") else []
    return bool(blocks) and isinstance(blocks[0], LTMPBlock)


def before_schedule(model: Any, spec: Any, seed: int, device: Any) -> bool:
    """Dense start, LTMP blocks off while the schedule trains; whether the detector is an LTMP one."""
    from hwbench.accuracy.detection.pruning_phase import start_dense

    if not is_ltmp(model):
        return False
    start_dense(model, spec, seed, device)
    model.set_pruning(False)
    return True


def threshold_phase(model: Any, batches: Iterator[Any], steps: int, box_kind: str) -> dict[str, Any]:
    """The threshold epoch over `steps` batches; its losses, learning rates and the thresholds it ends at."""
    import torch

    from hwbench.accuracy.detection.epoch import train_epoch
    from hwbench.accuracy.token_phase import knob_thresholds
    from hwbench.models.token_training import MERGE_LR, PRUNE_LR, clamp_thresholds, threshold_param_groups

    start = time.perf_counter()
    model.set_pruning(True)
    knobs = knob_thresholds(model)
    for p in model.parameters():  # the head and pyramid too, not only the ViT threshold_param_groups freezes
        p.requires_grad_(False)
    optimizer = torch.optim.SGD(threshold_param_groups(model.vit, MERGE_LR, PRUNE_LR), lr=MERGE_LR)
    optimizer.register_step_post_hook(lambda *_: clamp_thresholds(model.vit))
    total = max(1, steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    model.train()  # LTMP's surrogate gradients; the frozen network's BatchNorm keeps its statistics
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()
    sums = train_epoch(model, batches, box_kind, optimizer, scheduler)
    loss = sums["train_loss"] / total
    if not math.isfinite(loss):
        raise FloatingPointError(f"LTMP threshold phase diverged: loss {loss}")
    blocks = model.token_blocks()
    return {
        "phase": "ltmp thresholds",
        "steps": total,
        "lr": {"merge": MERGE_LR, "prune": PRUNE_LR},
        "initial": {"merge_threshold": knobs.merge_threshold, "prune_threshold": knobs.prune_threshold},
        "train_loss": [loss],
        "merge_thresholds": [round(b.merge_threshold.item(), 6) for b in blocks],
        "prune_thresholds": [round(b.prune_threshold.item(), 6) for b in blocks],
        "seconds": time.perf_counter() - start,
    }
