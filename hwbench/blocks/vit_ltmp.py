"""vit_ltmp: learned-threshold token merging and pruning in every block (LTMP)."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from hwbench.blocks import BLOCKS, BlockDef
from hwbench.blocks.tokens.ltmp import flops_loss, flops_ratio, received_attention, reduce_dynamic, reduce_static
from hwbench.blocks.tokens.ltmp_sources import follow_dynamic, follow_static
from hwbench.blocks.vit import Geometry, TokenBlock, Tokens
from hwbench.config import Strict


class LTMPParams(Strict):
    """Knobs: the FLOPs budget the thresholds are trained (or, untrained, calibrated) for, the thresholds'
    initial values (merge ≥ 1 never merges, prune < 0 never prunes), the surrogate temperature, λ, and
    whether an untrained network is calibrated."""

    flops_target: float = Field(0.75, gt=0, le=1)
    merge_threshold: float = Field(0.9, ge=-1, le=2)
    prune_threshold: float = Field(0.0, ge=-1, le=1)
    tau: float = Field(0.1, gt=0, le=10)
    loss_weight: float = Field(10.0, ge=0)
    # Untrained networks: set the merge threshold for flops_target on calibration images (false: keep the
    # knob values, e.g. thresholds that never fire, to measure the mechanism's overhead alone).
    calibrate: bool = True


class LTMPBlock(TokenBlock):
    """Attention (proportional, masked), threshold merge, threshold prune, MLP on what is left."""

    FORMS = ("dynamic", "fixed_count", "mask")
    TRAIN_FORM = "mask"
    MERGES = True

    def __init__(self, g: Geometry, p: LTMPParams) -> None:
        super().__init__(g)
        self.merge_threshold = nn.Parameter(torch.tensor(float(p.merge_threshold)))
        self.prune_threshold = nn.Parameter(torch.tensor(float(p.prune_threshold)))
        self.params = p
        # The reference's softmax epsilon in training; it shifts importances of ~1/N, so tests compare with 0.
        self.train_eps = 1e-5
        # Off: the plain block (a detector's dense phase, bit for bit the dense ViT's, hwbench.accuracy.detection).
        self.active = True

    def forward(self, t: Tokens) -> Tokens:
        """Reduce the tokens in the current form; the buffer stays packed (alive tokens first). A tracked `source`
        follows each patch position through the merges and prunes (hwbench.blocks.tokens.ltmp_sources)."""
        if not self.active:
            return Tokens(self.run(t.x), t.size, t.mask, t.record, t.log, t.source, t.held, t.frozen)
        x = t.x
        size = t.size if t.size is not None else x.new_ones(x.shape[:2])
        x, keys, attn = self.attend(x, size, t.mask, self.train_eps if self.training else 0.0)
        importance = received_attention(attn, t.mask)
        thresholds = (self.merge_threshold, self.prune_threshold)
        trace: dict[str, Tensor] | None = None if t.source is None else {}
        state = (t.source, t.held, t.frozen)
        if self.form == "dynamic":
            x, size = reduce_dynamic(x, size, keys, importance, thresholds, trace)
            mask, alive = None, size.new_ones(size.shape)
            if trace is not None:
                state = follow_dynamic(state, trace)
        else:
            n = x.shape[1]
            slots = n if self.form == "mask" or self.capacity is None else min(self.capacity, n)
            mask_in = t.mask if t.mask is not None else x.new_ones(x.shape[:2])
            x, size, mask = reduce_static(
                x, size, mask_in, keys, importance, thresholds, self.params.tau, slots, self.training, trace
            )
            alive = mask
            if trace is not None:
                state = follow_static(state, trace)
        if t.record:
            t.log.append(alive)
        return Tokens(self.ffn(x), size, mask, t.record, t.log, *state)

    @staticmethod
    def auxiliary_loss(blocks: list[TokenBlock], log: list[Tensor]) -> Tensor | None:
        """λ·(r_FLOPs − r_target)² over the blocks' alive masks."""
        g, p = blocks[0].geometry, blocks[0].params  # type: ignore[attr-defined]
        return flops_loss(flops_ratio(log, g.num_tokens, g.dim, g.mlp_ratio), p.flops_target, p.loss_weight)


BLOCKS.register("vit_ltmp")(
    BlockDef(
        name="vit_ltmp",
        family="vit",
        description="LTMP: learned per-block thresholds merge similar tokens and prune unimportant ones",
        params=LTMPParams,
        build=lambda g, p: LTMPBlock(g, p),
        token_forms=LTMPBlock.FORMS,
    )
)
