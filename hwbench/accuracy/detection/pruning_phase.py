"""The token-pruning phase of a ViT detector's training (SViT for dense tasks, docs/vit.md).

The detector starts from its dense counterpart's initial weights and trains dense through the schedule (selectors
off), so up to that point it is the dense detector; then `finetune_epochs` more epochs train with the selectors on,
initialised to keep every token, loss = detection loss + the keep-ratio loss (batch-mean, or per image with
`rate: fixed`). With `finetune_epochs: 0` the selectors train with the network through the whole schedule.
Then the decision rule (`threshold`): calibrated shifts each selector's keep bias on training images so that its
block keeps its target on average (hard decisions, block by block); learned keeps p(keep) > p(skip) as trained.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

# The fine-tune's learning rate relative to the schedule's base rate (cosine to 0 over the fine-tune); the
# selectors, new to the network, train at the base rate itself (a short fine-tune must move them far enough).
FINETUNE_LR = 0.1
SELECTOR_LR = 1.0
# Keep-minus-skip log-odds the selectors start with on the lowest-scored token of a training batch: every token
# is kept at inference, and Gumbel sampling skips a few (p ≤ 0.27) so the keep-ratio loss has a gradient.
START_MARGIN = 1.0
# Training images the calibrated rule sets its biases on (the first ones of the training split): 256 images of
# 64 patch tokens put each block's mean kept fraction within 1/16,384 of its target on them.
CALIBRATION_IMAGES = 256


# Parameters a token-reducing detector adds to its dense counterpart's (SViT selectors, LTMP thresholds).
NEW_PARAMETERS = ("selector", "merge_threshold", "prune_threshold")


def _fits_dense(missing: list[str], unexpected: list[str]) -> bool:
    return not unexpected and all(any(n in k for n in NEW_PARAMETERS) for k in missing)


def pruning_knobs(model: Any, spec: Any) -> Any | None:
    """The detector's pruning knobs, or None when it does not prune (CNN detectors, dense ViT detectors)."""
    if not hasattr(model, "set_pruning") or not model.token_blocks():
        return None
    return spec.arch.pruning


def start_dense(model: Any, spec: Any, seed: int, device: Any) -> list[str]:
    """Load the dense counterpart's initial weights (the same seed rule as accuracy.trainer.seeded_model);
    returns the keys left as built (the selectors, or LTMP's thresholds)."""
    from hwbench.models import build_model
    from hwbench.space.det_vit import dense_detector
    from hwbench.store.keys import digest

    dense = dense_detector(spec)
    weights = build_model(dense, seed=int(digest({"arch": dense.arch_id, "seed": seed}, 8), 16), device=device)
    missing, unexpected = model.load_state_dict(weights.state_dict(), strict=False)
    if not _fits_dense(missing, unexpected):
        raise ValueError(f"dense weights do not fit the pruned detector: {unexpected or missing}")
    return list(missing)


def load_dense(model: Any, path: str, device: Any) -> None:
    """Trained dense-counterpart weights into the pruning (or LTMP) detector (its new parameters stay as built)."""
    import torch

    missing, unexpected = model.load_state_dict(torch.load(path, map_location=device, weights_only=True), strict=False)
    if not _fits_dense(missing, unexpected):
        raise ValueError(f"dense weights do not fit the pruned detector: {unexpected or missing}")


def before_schedule(model: Any, spec: Any, seed: int, device: Any) -> Any | None:
    """Dense start, selectors off while the schedule trains (unless the fine-tune is 0 epochs); the knobs."""
    knobs = pruning_knobs(model, spec)
    if knobs is None:
        return None
    start_dense(model, spec, seed, device)
    model.set_pruning(knobs.finetune_epochs == 0)
    return knobs


def finetune(
    model: Any,
    knobs: Any,
    batches: Callable[[], Iterator[tuple[Any, list[Any], list[Any]]]],
    steps_per_epoch: int,
    sched: dict[str, Any],
    box_kind: str,
) -> dict[str, Any]:
    """The pruning fine-tune: selectors on and keeping everything, then `finetune_epochs` epochs."""
    import torch

    from hwbench.accuracy.detection.epoch import train_epoch
    from hwbench.accuracy.trainer import make_optimizer
    from hwbench.models.calibrate import calibrate_keep_all

    start = time.perf_counter()
    if knobs.finetune_epochs == 0:
        return {"finetune_epochs": 0, "selectors": "trained with the network through the schedule"}
    model.set_pruning(True)
    first = next(batches())[0]
    biases = calibrate_keep_all(model.vit, first, START_MARGIN)
    base = float(sched["optimizer"]["lr"])
    optimizer = make_optimizer(model, {**sched["optimizer"], "lr": base * FINETUNE_LR})
    selectors = {id(p) for b in model.token_blocks() for p in b.selector.parameters()}
    for group in list(optimizer.param_groups):
        mine = [p for p in group["params"] if id(p) in selectors]
        if mine:
            group["params"] = [p for p in group["params"] if id(p) not in selectors]
            optimizer.add_param_group({**{k: v for k, v in group.items() if k != "params"}, "params": mine})
            optimizer.param_groups[-1]["lr"] = base * SELECTOR_LR
    total = max(1, steps_per_epoch * knobs.finetune_epochs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    losses = []
    for _ in range(knobs.finetune_epochs):
        model.train()
        sums = train_epoch(model, batches(), box_kind, optimizer, scheduler)
        losses.append(sums["train_loss"] / steps_per_epoch)
        # As in the schedule: a diverged fine-tune is a failure, not a detector with NaN weights and mAP 0.
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(f"pruning fine-tune diverged: loss {losses[-1]} in epoch {len(losses)}")
    return {
        "finetune_epochs": knobs.finetune_epochs,
        "steps": total,
        "lr": {"network": base * FINETUNE_LR, "selectors": base * SELECTOR_LR},
        "start_margin": START_MARGIN,
        "initial_keep_bias": biases,
        "train_loss": losses,
        "seconds": time.perf_counter() - start,
    }


def decision_rule(model: Any, knobs: Any, images: Any) -> dict[str, Any]:
    """Apply the `threshold` rule after training; what it did on the calibration `images` (hard decisions): the
    biases added to the selectors (calibrated) and the kept fraction per pruning block."""
    import torch

    from hwbench.blocks.tokens.prune import keep_fraction
    from hwbench.models.calibrate import calibrate_prune

    model.set_pruning(True)
    facts: dict[str, Any] = {"threshold": knobs.threshold, "calibration_images": int(images.shape[0])}
    if knobs.threshold == "calibrated":
        done = calibrate_prune(model.vit, images)
        facts.update(calibration_bias=done["bias"], calibration_keep_ratio=done["keep_ratio"])
        return facts
    was_training = model.training
    model.eval()
    with torch.no_grad():
        log = model.forward_tokens(images, record=True).log
    model.train(was_training)
    facts["calibration_keep_ratio"] = [round(float(keep_fraction(m).mean()), 4) for m in log]
    return facts
