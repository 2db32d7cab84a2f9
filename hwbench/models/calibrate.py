"""Calibrate the reduction of an untrained token-reduced ViT to its design targets.

Random weights make LTMP thresholds and pruning selectors meaningless: similarities, importances and
selector scores of an untrained network fall wherever they fall. Until a model is trained (the accuracy
pipeline), hwbench sets them so the network reduces as much as its knobs ask on the calibration images:
LTMP's merge threshold (one value for every block, prune thresholds kept at their knob value) by bisection
on the FLOPs ratio, and each pruning selector's bias so that the block keeps its target fraction. A trained
pruning detector's selectors get the same bias after their fine-tune (`threshold: calibrated`,
hwbench.accuracy.detection.pruning_phase): a short fine-tune leaves many tokens near p(keep) = 0.5, so the learned
rule p(keep) > p(skip) keeps whatever it happens to keep.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from hwbench.blocks.tokens.ltmp import flops_ratio
from hwbench.blocks.tokens.prune import keep_fraction
from hwbench.blocks.vit import Tokens
from hwbench.blocks.vit_ltmp import LTMPBlock
from hwbench.blocks.vit_mlp_prune import PruneBlock
from hwbench.models.vit import VisionTransformer

BISECTION_STEPS = 12
# A bias this far beyond every score keeps (or skips) every token: targets of 1 keep all.
FAR = 1e3


def calibrate(model: VisionTransformer, images: Tensor) -> dict[str, Any] | None:
    """Calibrate the model's token blocks in place (their training form); None when nothing is calibrated."""
    blocks = model.token_blocks()
    if blocks and isinstance(blocks[0], LTMPBlock):
        return calibrate_ltmp(model, images)
    if blocks and isinstance(blocks[0], PruneBlock):
        return calibrate_prune(model, images)
    return None


def ltmp_ratio(model: VisionTransformer, images: Tensor) -> float:
    """Mean r_FLOPs over the images in the model's current form."""
    g = model.token_blocks()[0].geometry
    with torch.no_grad():
        log = model.forward_tokens(images, record=True).log
    return float(flops_ratio(log, g.num_tokens, g.dim, g.mlp_ratio).mean())


def calibrate_ltmp(model: VisionTransformer, images: Tensor) -> dict[str, Any]:
    """One merge threshold for all blocks whose mean r_FLOPs is closest to the flops_target knob."""
    blocks: list[LTMPBlock] = model.token_blocks()  # type: ignore[assignment]
    target = blocks[0].params.flops_target

    def ratio_at(theta: float) -> float:
        with torch.no_grad():
            for b in blocks:
                b.merge_threshold.fill_(theta)
        return ltmp_ratio(model, images)

    # r_FLOPs grows with the threshold (fewer merges); cosine similarity lies in [-1, 1].
    lo, hi = -1.0, 1.0
    best = (abs(ratio_at(hi) - target), hi)
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        r = ratio_at(mid)
        best = min(best, (abs(r - target), mid))
        lo, hi = (mid, hi) if r < target else (lo, mid)
    theta = best[1]
    achieved = ratio_at(theta)
    return {
        "method": "ltmp merge threshold by bisection",
        "flops_target": target,
        "flops_ratio": round(achieved, 4),
        "merge_threshold": theta,
        "prune_threshold": blocks[0].prune_threshold.item(),
    }


def calibrate_prune(model: VisionTransformer, images: Tensor) -> dict[str, Any]:
    """Each pruning selector's keep bias so that, averaged over `images`, its block processes its target fraction of
    the patch tokens with hard decisions; block by block in order, each on the tokens the blocks before it left.

    The bias is one quantile of the keep-minus-skip log-odds pooled over all images, so each image still keeps its
    own amount. A block that cannot bring back a skipped token (no reactivation: `Tokens.mask`) chooses among the
    tokens still alive, and its target stays a fraction of all patch tokens (as the keep-ratio loss counts it).
    """
    was_training = model.training
    model.eval()  # hard decisions, as deployed
    biases, achieved = [], []
    with torch.no_grad():
        t = Tokens(model.embed(images), record=True)
        for blk in model.blocks:
            if isinstance(blk, PruneBlock) and blk.active:
                logp = blk.selector(t.x)
                scores = logp[:, 1:, 0] - logp[:, 1:, 1]
                alive = None if blk.reactivate or t.mask is None else t.mask[:, 1:] > 0
                bias = _bias_for(scores, blk.target, alive)
                blk.selector.shift(bias)
                biases.append(round(bias, 6))
            t = blk(t)
            if isinstance(blk, PruneBlock) and blk.active:
                achieved.append(round(float(keep_fraction(t.log[-1]).mean()), 4))
    model.train(was_training)
    targets = [round(b.target, 4) for b in model.token_blocks()]  # type: ignore[attr-defined]
    return {"method": "selector bias per block", "keep_targets": targets, "keep_ratio": achieved, "bias": biases}


def _bias_for(scores: Tensor, target: float, alive: Tensor | None = None) -> float:
    """A bias b with (scores + b > 0) true for round(target · count) of the scores, or as near as ties allow; with
    `alive` (a bool mask like scores), chosen among the alive ones only (all of them when fewer are alive), count
    still that of all scores."""
    k = round(target * scores.numel())
    s = (scores if alive is None else scores[alive]).flatten().sort(descending=True).values
    n = s.numel()
    if n == 0:  # nothing alive to decide on
        return 0.0
    if k >= n:
        return FAR - float(s[-1])
    if k <= 0:
        return -FAR - float(s[0])
    # Equal scores at the cut (identical tokens: a blank patch at one position in many images) all fall on one
    # side of any bias: cut on the side of the tied group nearer k.
    v = s[k]
    above, upto = int((s > v).sum()), int((s >= v).sum())
    if k - above <= upto - k:
        return -FAR - float(s[0]) if above == 0 else -float(s[above - 1] + v) / 2
    return FAR - float(s[-1]) if upto >= n else -float(v + s[upto]) / 2


def calibrate_keep_all(model: VisionTransformer, images: Tensor, margin: float = 3.0) -> list[float]:
    """Bias every pruning selector so it keeps every token of `images` with a keep-minus-skip log-odds of at least
    `margin` (p(keep) ≥ 0.95 at 3): the start of a pruning fine-tune on a network trained dense. Returns the biases."""
    was_training = model.training
    model.eval()
    biases = []
    with torch.no_grad():
        t = Tokens(model.embed(images))
        for blk in model.blocks:
            if isinstance(blk, PruneBlock):
                logp = blk.selector(t.x)
                bias = margin - float((logp[:, 1:, 0] - logp[:, 1:, 1]).min())
                blk.selector.shift(bias)
                biases.append(round(bias, 4))
            t = blk(t)
    model.train(was_training)
    return biases
