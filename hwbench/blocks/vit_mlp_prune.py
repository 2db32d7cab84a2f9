"""vit_mlp_prune: an MLP per block chooses the tokens the block processes; skipped tokens pass unchanged (SViT)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from torch import Tensor, nn

from hwbench.blocks import BLOCKS, BlockDef
from hwbench.blocks.tokens.prune import (
    Selector,
    apply_dynamic,
    apply_fixed_count,
    apply_mask,
    decide,
    keep_ratio_loss,
)
from hwbench.blocks.vit import Geometry, TokenBlock, Tokens, ViTBlock
from hwbench.config import Strict


class PruneParams(Strict):
    """Knobs: the first `skip_first` blocks never prune; the pruning blocks form `groups` consecutive groups
    whose keep-ratio targets are keep_ratio, keep_ratio², ... (SViT: 0.7, 0.49, 0.343)."""

    keep_ratio: float = Field(0.7, gt=0, le=1)
    groups: int = Field(3, ge=1, le=64)
    skip_first: int = Field(3, ge=0, le=64)
    tau: float = Field(1.0, gt=0, le=10)
    loss_weight: float = Field(4.0, ge=0)
    # Untrained networks: bias each selector to keep its target on calibration images (false: as initialised).
    calibrate: bool = True


def keep_target(g: Geometry, p: PruneParams) -> float:
    """Keep-ratio target of the pruning block at g.index."""
    pruning = g.depth - p.skip_first
    group = (g.index - p.skip_first) * min(p.groups, pruning) // pruning
    return p.keep_ratio ** (group + 1)


class PruneBlock(TokenBlock):
    """Selector decides keep/skip for every token; the block processes the kept ones only."""

    FORMS = ("dynamic", "fixed_count", "mask")
    TRAIN_FORM = "mask"

    def __init__(self, g: Geometry, p: PruneParams) -> None:
        super().__init__(g)
        self.selector = Selector(g.dim)
        self.target = keep_target(g, p)
        self.params = p
        # Dense-task settings (a detector sets them, hwbench.models.det_vit): `active` False computes every token
        # (the dense phase of training); `reactivate` False multiplies each decision into the previous ones
        # (carried in Tokens.mask), so a skipped token stays skipped; `per_sample` squares each image's deviation.
        self.active, self.reactivate, self.per_sample = True, True, False

    def forward(self, t: Tokens) -> Tokens:
        """Decide, then process the kept tokens in the current form; skipped ones keep their values."""
        if not self.active:
            t.x = self.run(t.x)
            return t
        logp = self.selector(t.x)
        keep = decide(logp, self.training, self.params.tau)
        if not self.reactivate:
            keep = keep if t.mask is None else keep * t.mask
            t.mask = keep
        if t.record:
            t.log.append(keep)
        if self.form == "dynamic":
            t.x = apply_dynamic(self.run, t.x, keep)
        elif self.form == "fixed_count":
            slots = t.x.shape[1] if self.capacity is None else min(self.capacity, t.x.shape[1])
            t.x = apply_fixed_count(self.run, t.x, keep, logp, slots)
        else:
            t.x = apply_mask(self.run, t.x, keep, self.training)
        return t

    @staticmethod
    def auxiliary_loss(blocks: list[TokenBlock], log: list[Tensor]) -> Tensor | None:
        """SViT's keep-ratio loss against each block's target."""
        weight = blocks[0].params.loss_weight  # type: ignore[attr-defined]
        per_sample = bool(getattr(blocks[0], "per_sample", False))
        return keep_ratio_loss(log, [b.target for b in blocks], weight, per_sample)  # type: ignore[attr-defined]


def build(g: Geometry, p: PruneParams) -> nn.Module:
    """A plain block before `skip_first`, a pruning block after."""
    return ViTBlock(g) if g.index < p.skip_first else PruneBlock(g, p)


def check(arch: Any) -> None:
    """At least one block must prune."""
    p = PruneParams.model_validate(arch.params)
    if p.skip_first >= arch.depth:
        raise ValueError(f"params.skip_first {p.skip_first} must be below depth {arch.depth}: no block would prune")


BLOCKS.register("vit_mlp_prune")(
    BlockDef(
        name="vit_mlp_prune",
        family="vit",
        description="MLP token pruning (SViT): a per-block selector skips tokens, which pass through unchanged",
        params=PruneParams,
        build=build,
        token_forms=PruneBlock.FORMS,
        check=check,
    )
)
