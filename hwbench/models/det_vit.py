"""Build a ViT detector from a DetViTArch: the ViT's full token grid (class token dropped from the map) → a
ViTDet-style simple pyramid (transposed convs up, identity, max-pool down; each level 1x1 to the head width) →
the detector macro's anchor head, with box decoding inside the graph as for the CNN detectors.

A pruning backbone (vit_mlp_prune blocks) keeps skipped tokens in place, so the head always sees a full map;
the detector's `pruning` knobs set the blocks' reactivation, the discard ablation and the per-image rate loss.
A merging backbone (vit_tome blocks) tracks which token holds each patch and un-merges the map at the end: every
patch position takes the feature of the token it was merged into (a merged group's positions share one vector).
An LTMP backbone (vit_ltmp blocks) merges and prunes: merged positions follow their token as in ToMe, a pruned token's
positions keep its state from the step it was pruned (a side buffer), so the map stays complete.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hwbench.blocks.layers import ConvNormAct, make_act
from hwbench.blocks.tokens.ops import gather_rows
from hwbench.blocks.tokens.prune import refill_discarded
from hwbench.blocks.vit import TokenBlock, Tokens
from hwbench.models.det_heads import extra_level
from hwbench.models.detector import OneStageDetector, decode_boxes, extras_needed, kaiming_init, make_head, run_extras
from hwbench.models.vit import VisionTransformer
from hwbench.space.det_vit import SCALES, DetViTArch, anchor_boxes, vit_pyramid


def scale_layer(dim: int, scale: float, act: str) -> nn.Module:
    """Resample the token map by `scale`: ×4 and ×2 by 2x2 stride-2 transposed convs, ÷2 by 2x2 max-pooling.

    Transposed convs with kernel = stride are plain matmuls plus a reshape in ONNX and TFLite (no padding
    arithmetic); max-pooling is ViTDet's own choice for the ÷2 level.
    """
    if scale == 4.0:
        return nn.Sequential(
            nn.ConvTranspose2d(dim, dim, 2, 2), nn.BatchNorm2d(dim), make_act(act), nn.ConvTranspose2d(dim, dim, 2, 2)
        )
    if scale == 2.0:
        return nn.ConvTranspose2d(dim, dim, 2, 2)
    if scale == 0.5:
        return nn.MaxPool2d(2, 2)
    return nn.Identity()


class ViTDetector(OneStageDetector):
    """ViT backbone → simple pyramid → head; `forward` decodes boxes and turns logits into class scores."""

    anchors: Tensor

    def __init__(self, arch: DetViTArch) -> None:
        super().__init__()
        self.num_classes = arch.num_classes
        self.head_type = arch.head.type
        backbone = arch.network_backbone
        self.grid = backbone.resolution // backbone.patch
        self.vit = VisionTransformer(backbone)
        self.vit.head = nn.Identity()  # type: ignore[assignment]  # the class-token classifier has no use here
        dim, width, act = backbone.width, arch.head.width, arch.head.act
        self.scales = nn.ModuleList(
            nn.Sequential(scale_layer(dim, SCALES[i], act), ConvNormAct(dim, width, 1, act=act))
            for i in arch.head.levels
        )
        levels = vit_pyramid(arch)
        needed = extras_needed(levels, arch.anchors.per_level, len(arch.head.levels))
        self.extras = nn.ModuleList(extra_level(width, width, act) for _ in range(needed))
        self.head = make_head(arch, [lv.channels for lv in levels])
        kaiming_init([*self.scales.modules(), *self.extras.modules()])
        knobs = arch.pruning
        self.discard = knobs is not None and not knobs.keep_pruned
        self.merges = any(b.MERGES for b in self.token_blocks())
        for b in self.token_blocks() if knobs is not None else []:  # merging blocks take no pruning knobs
            # Discarding implies no reactivation: a discarded token is gone from every later block.
            b.reactivate = knobs.reactivate and not self.discard  # type: ignore[union-attr]
            b.per_sample = knobs.rate == "fixed"  # type: ignore[union-attr]
        self.last_log: list[Tensor] = []
        self.register_buffer("anchors", torch.as_tensor(anchor_boxes(arch)), persistent=False)

    def token_blocks(self) -> list[TokenBlock]:
        """The backbone's blocks with a token mechanism, in order."""
        return self.vit.token_blocks()

    def set_token_form(self, form: str, capacities: list[int] | None = None) -> None:
        """Put every token block in `form` (fixed_count: one capacity per token block)."""
        self.vit.set_token_form(form, capacities)

    @property
    def token_form(self) -> str:
        """The current form ("dense" for a plain ViT backbone)."""
        return self.vit.token_form

    def set_pruning(self, active: bool) -> None:
        """Switch the selectors on or off (off: every block computes every token, the dense training phase)."""
        for b in self.token_blocks():
            b.active = active  # type: ignore[attr-defined]

    def forward_tokens(self, img: Tensor, record: bool = False) -> Tokens:
        """The backbone's final token state; with `record`, each pruning block logs its keep mask. A merging
        backbone also tracks `source`: patch position p (token p + 1, after the class token) starts at p + 1."""
        if not self.merges:
            return self.vit.forward_tokens(img, record=record)
        x = self.vit.embed(img)
        positions = torch.arange(1, x.shape[1], device=x.device, dtype=x.dtype)
        t = Tokens(x, record=record, source=positions.unsqueeze(0).expand(x.shape[0], -1))
        for blk in self.vit.blocks:
            t = blk(t)
        return t

    def token_map(self, t: Tokens) -> Tensor:
        """Final tokens → the normalised patch-token map (B, C, H, W); discarded tokens refilled first, merged
        tokens un-merged (each position gathers the token holding it: a static-shape gather), pruned ones (LTMP)
        taken from the side buffer of their last states."""
        x = t.x[:, 1:] if t.source is None else gather_rows(t.x, t.source)
        if t.held is not None and t.frozen is not None:
            x = torch.where(t.held.unsqueeze(-1) > 0, x, t.frozen)
        if self.discard and t.mask is not None:
            x = refill_discarded(x, t.mask[:, 1:])
        x = self.vit.norm(x)
        return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], self.grid, self.grid)

    def backbone_map(self, img: Tensor) -> Tensor:
        """The backbone alone: image → token map (what backbone-only latency times)."""
        t = self.forward_tokens(img, record=self.training)
        if self.training:
            self.last_log = t.log
        return self.token_map(t)

    def features(self, img: Tensor) -> list[Tensor]:
        """Pyramid features of an image."""
        return self.pyramid(self.backbone_map(img))

    def pyramid(self, grid: Tensor) -> list[Tensor]:
        """The chosen scales of the token map, then the extra levels that are built."""
        feats = [level(grid) for level in self.scales]
        return run_extras(feats, feats[-1], self.extras)

    def decode(self, deltas: Tensor) -> Tensor:
        """Boxes from the anchors (the shared box coding)."""
        return decode_boxes(deltas, self.anchors)

    def auxiliary_loss(self) -> Tensor:
        """The keep-ratio loss of the last training forward (0 without pruning blocks or decisions)."""
        blocks = self.token_blocks()
        loss = type(blocks[0]).auxiliary_loss(blocks, self.last_log) if blocks and self.last_log else None
        return loss if loss is not None else self.anchors.new_zeros(())


class BackboneOnly(nn.Module):
    """The detector's backbone as its own graph (image → token map), for backbone-only latency."""

    def __init__(self, detector: ViTDetector) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, x: Tensor) -> Tensor:
        """The token map."""
        return self.detector.backbone_map(x)


def build_det_vit(arch: DetViTArch) -> ViTDetector:
    """Builder registered for the det_vit family."""
    return ViTDetector(arch)
