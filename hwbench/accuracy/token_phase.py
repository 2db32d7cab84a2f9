"""How the trainer trains the token mechanisms of reduced ViTs, as their papers do (docs/vit.md).

- LTMP: the schedule trains the backbone with reduction off (thresholds that never fire, frozen), so the
  backbone is a trained ViT; then one more epoch trains only the per-block thresholds, starting from their
  knob values: hard masks forward, sigmoid((s − θ)/τ) backward, loss = cross-entropy + λ·(r_FLOPs − target)².
- MLP pruner: the selectors train with the network through the whole schedule (hard Gumbel-softmax masks
  forward, soft gradients), loss = task loss + the keep-ratio loss averaged over the batch.

The pieces (auxiliary losses, threshold groups, clamping, `fit_thresholds`) are the model's own
(hwbench.models.token_training); this module only wires them into the schedule and reports what they produced.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

# Thresholds that never fire: cosine similarity is at most 1 (merge needs s > θ), importance is at least 0.
OFF_MERGE, OFF_PRUNE = 2.0, -1.0


def token_method(model: Any) -> str | None:
    """ "ltmp", "mlp_prune" or None (CNNs, plain ViTs, ToMe: nothing to train beyond the network)."""
    from hwbench.blocks.vit_ltmp import LTMPBlock
    from hwbench.blocks.vit_mlp_prune import PruneBlock

    blocks = model.token_blocks() if hasattr(model, "token_blocks") else []
    if blocks and isinstance(blocks[0], LTMPBlock):
        return "ltmp"
    if blocks and isinstance(blocks[0], PruneBlock):
        return "mlp_prune"
    return None


def before_schedule(model: Any) -> None:
    """LTMP: switch reduction off and freeze the thresholds while the schedule trains the backbone."""
    if token_method(model) != "ltmp":
        return
    with torch.no_grad():
        for b in model.token_blocks():
            b.merge_threshold.fill_(OFF_MERGE).requires_grad_(False)
            b.prune_threshold.fill_(OFF_PRUNE).requires_grad_(False)


def schedule_loss(model: Any, task_loss: Tensor) -> Tensor:
    """The schedule's loss: the task loss, plus the pruner's keep-ratio term of the same forward."""
    if token_method(model) == "mlp_prune":
        return task_loss + model.auxiliary_loss()
    return task_loss


def knob_thresholds(model: Any) -> Any:
    """Put every LTMP threshold at its knob value (where the threshold epoch starts); return the knobs."""
    knobs = model.token_blocks()[0].params
    with torch.no_grad():
        for b in model.token_blocks():
            b.merge_threshold.fill_(knobs.merge_threshold)
            b.prune_threshold.fill_(knobs.prune_threshold)
    return knobs


def threshold_phase(model: Any, batches: Iterator[tuple[Tensor, Tensor]], steps: int) -> dict[str, Any]:
    """LTMP's extra epoch: thresholds from their knob values, trained alone over `steps` batches."""
    from hwbench.models.token_training import MERGE_LR, PRUNE_LR, fit_thresholds

    start = time.perf_counter()
    knobs = knob_thresholds(model)
    history = fit_thresholds(model, batches, steps)
    return {
        "steps": len(history),
        "seconds": time.perf_counter() - start,
        "lr": {"merge": MERGE_LR, "prune": PRUNE_LR},
        "initial": {"merge_threshold": knobs.merge_threshold, "prune_threshold": knobs.prune_threshold},
        "first_step": history[0] if history else None,
        "last_step": history[-1] if history else None,
    }


def validation_facts(model: Any, val: Any, batch: int, channels_last: bool) -> dict[str, Any]:
    """What the trained mechanism does on the validation split, with hard (deploy) decisions."""
    from hwbench.blocks.tokens.ltmp import flops_ratio
    from hwbench.blocks.tokens.prune import keep_fraction

    method = token_method(model)
    blocks = model.token_blocks()
    g = blocks[0].geometry
    was_training = model.training
    model.eval()
    per_image: list[Tensor] = []
    with torch.inference_mode():
        for i in range(0, len(val), batch):
            idx = torch.arange(i, min(i + batch, len(val)), device=val.device)
            log = model.forward_tokens(val.images(idx, channels_last), record=True).log
            if method == "ltmp":
                per_image.append(flops_ratio(log, g.num_tokens, g.dim, g.mlp_ratio).cpu())
            else:
                per_image.append(torch.stack([keep_fraction(m) for m in log], dim=1).cpu())
    model.train(was_training)
    values = torch.cat(per_image)
    facts: dict[str, Any] = {"method": method, "val_images": len(val), "decisions": "hard (deploy)"}
    if method == "ltmp":
        facts.update(
            flops_target=blocks[0].params.flops_target,
            flops_ratio=round(float(values.mean()), 4),
            flops_ratio_p10_p90=[round(float(q), 4) for q in values.quantile(torch.tensor([0.1, 0.9]))],
            merge_thresholds=[round(b.merge_threshold.item(), 6) for b in blocks],
            prune_thresholds=[round(b.prune_threshold.item(), 6) for b in blocks],
        )
    else:
        facts.update(
            keep_targets=[round(b.target, 4) for b in blocks],
            keep_ratio=[round(float(v), 4) for v in values.mean(dim=0)],
        )
    return facts
