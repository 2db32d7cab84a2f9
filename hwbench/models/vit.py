"""Build a ViT (patch embedding → blocks of one type → class-token head) from a ViTArch; token-form control."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hwbench.blocks import get_block
from hwbench.blocks.vit import Geometry, TokenBlock, Tokens
from hwbench.space.vit import ViTArch


class VisionTransformer(nn.Module):
    """The macro network shared by every ViT space; only the blocks (their token mechanism) differ."""

    def __init__(self, arch: ViTArch) -> None:
        super().__init__()
        block = get_block(arch.block)
        params = block.params.model_validate(arch.params)
        self.num_tokens = arch.num_tokens
        self.patch_embed = nn.Conv2d(arch.in_channels, arch.width, arch.patch, arch.patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, arch.width))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_tokens, arch.width))
        self.blocks = nn.ModuleList(
            block.build(Geometry(arch.width, arch.heads, arch.mlp_ratio, arch.depth, self.num_tokens, i), params)
            for i in range(arch.depth)
        )
        self.norm = nn.LayerNorm(arch.width, eps=1e-6)
        self.head = nn.Linear(arch.width, arch.num_classes)
        self.last_log: list[Tensor] = []
        _init_weights(self)

    def embed(self, img: Tensor) -> Tensor:
        """Image → tokens: patches, class token first, plus positions."""
        x = self.patch_embed(img).flatten(2).transpose(1, 2)
        return torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed

    def forward_tokens(self, img: Tensor, record: bool = False) -> Tokens:
        """The final token state; with `record`, each token-reduced block logs its alive/keep mask."""
        t = Tokens(self.embed(img), record=record)
        for blk in self.blocks:
            t = blk(t)
        return t

    def forward(self, img: Tensor) -> Tensor:
        """Logits from the class token. A training forward keeps its log for auxiliary_loss()."""
        t = self.forward_tokens(img, record=self.training)
        if self.training:
            self.last_log = t.log
        return self.head(self.norm(t.x[:, 0]))

    def token_blocks(self) -> list[TokenBlock]:
        """The blocks with a token mechanism, in order."""
        return [b for b in self.blocks if isinstance(b, TokenBlock)]

    def set_token_form(self, form: str, capacities: list[int] | None = None) -> None:
        """Put every token block in `form` (fixed_count: one capacity per token block)."""
        blocks = self.token_blocks()
        if capacities is not None and len(capacities) != len(blocks):
            raise ValueError(f"{len(capacities)} capacities for {len(blocks)} token blocks")
        for i, b in enumerate(blocks):
            b.set_form(form, None if capacities is None else int(capacities[i]))

    @property
    def token_form(self) -> str:
        """The current form ("dense" for a plain ViT)."""
        blocks = self.token_blocks()
        return blocks[0].form if blocks else "dense"

    def auxiliary_loss(self) -> Tensor:
        """The method's loss term (LTMP FLOPs budget, pruner keep ratio) of the last training forward, else 0."""
        blocks = self.token_blocks()
        loss = type(blocks[0]).auxiliary_loss(blocks, self.last_log) if blocks and self.last_log else None
        return loss if loss is not None else self.head.weight.new_zeros(())


def _init_weights(model: VisionTransformer) -> None:
    """Truncated-normal linears and positions (std 0.02, as DeiT), zero biases, unit norms."""
    nn.init.trunc_normal_(model.pos_embed, std=0.02)
    nn.init.trunc_normal_(model.cls_token, std=0.02)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)


def build_vit(arch: ViTArch) -> VisionTransformer:
    """Builder registered for the vit family."""
    return VisionTransformer(arch)
