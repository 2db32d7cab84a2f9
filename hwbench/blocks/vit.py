"""The plain pre-norm ViT block, split into an attention half and an MLP half so token mechanisms sit between.

Token-reduced blocks (vit_tome, vit_ltmp, vit_mlp_prune) subclass it and keep its parameter names, so a dense
ViT's weights load into any of them (only thresholds and selectors are new).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hwbench.blocks import BLOCKS, BlockDef
from hwbench.config import Strict


@dataclass(frozen=True)
class Geometry:
    """Where a block sits: width, heads, MLP ratio, the network's depth and input token count, its index."""

    dim: int
    heads: int
    mlp_ratio: float
    depth: int
    num_tokens: int
    index: int


@dataclass
class Tokens:
    """The token state passed from block to block.

    `size` (B, N): patches each token holds (ToMe, LTMP); `mask` (B, N): 1 for alive tokens of a packed
    buffer (LTMP); `log`: per token-reduced block, its alive or keep mask, recorded when `record` is set;
    `source` (B, P): for each patch position, the index of the token now holding it (integer-valued floats),
    tracked by merging blocks when set (a detector un-merges its map with it: hwbench.models.det_vit); LTMP also
    prunes: `held` (B, P) 1 while a position's token is in the buffer, `frozen` (B, P, C) the state of a pruned
    position's token when it left (hwbench.blocks.tokens.ltmp_sources).
    """

    x: Tensor
    size: Tensor | None = None
    mask: Tensor | None = None
    record: bool = False
    log: list[Tensor] = field(default_factory=list)
    source: Tensor | None = None
    held: Tensor | None = None
    frozen: Tensor | None = None


class Attention(nn.Module):
    """Multi-head self-attention with an optional proportional (log-size) bias and key mask."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self, x: Tensor, size: Tensor | None = None, mask: Tensor | None = None, eps: float = 0.0
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Output, keys averaged over heads (B, N, D/H) and attention probabilities (B, H, N, N).

        At inference a key mask is folded into the additive bias log(size·mask), log 0 = -inf (exact in
        onnxruntime and XNNPACK, no extra ops); in training it multiplies the exponentials so that
        straight-through gradients reach it (the log form would give NaN gradients).
        """
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        logits = (q @ k.transpose(-2, -1)) * self.scale
        if mask is not None and self.training:
            if size is not None:
                logits = logits + torch.log(size)[:, None, None, :]
            keys = mask[:, None, None, :]
            peak = torch.where(keys > 0, logits, torch.full_like(logits, float("-inf"))).amax(-1, keepdim=True)
            # A hidden key may score far above the kept ones (a trained ViT's logits spread by thousands):
            # exp would overflow to inf and inf * 0 = NaN. Clamped, a hidden key's exponential is at most 1
            # (its straight-through gradient stays finite); kept keys are never above the peak, so unchanged.
            e = torch.exp((logits - peak).clamp(max=0.0)) * keys
            attn = (e + eps / n) / (e.sum(dim=-1, keepdim=True) + eps)
        else:
            w = size if mask is None else (mask if size is None else size * mask)
            if w is not None:
                logits = logits + torch.log(w)[:, None, None, :]
            attn = logits.softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(out), k.mean(dim=1), attn


class Mlp(nn.Module):
    """Linear → GELU → Linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the MLP."""
        return self.fc2(F.gelu(self.fc1(x)))


class ViTBlock(nn.Module):
    """Pre-norm transformer block (DeiT layout: LayerNorm eps 1e-6, qkv bias, GELU MLP)."""

    def __init__(self, g: Geometry) -> None:
        super().__init__()
        self.geometry = g
        self.norm1 = nn.LayerNorm(g.dim, eps=1e-6)
        self.attn = Attention(g.dim, g.heads)
        self.norm2 = nn.LayerNorm(g.dim, eps=1e-6)
        self.mlp = Mlp(g.dim, round(g.dim * g.mlp_ratio))

    def attend(
        self, x: Tensor, size: Tensor | None = None, mask: Tensor | None = None, eps: float = 0.0
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Attention half with its residual; also the mean keys and attention probabilities."""
        a, keys, attn = self.attn(self.norm1(x), size, mask, eps)
        return x + a, keys, attn

    def ffn(self, x: Tensor) -> Tensor:
        """MLP half with its residual."""
        return x + self.mlp(self.norm2(x))

    def run(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """The whole block on x; `mask` (B, N) hides keys."""
        return self.ffn(self.attend(x, mask=mask)[0])

    def forward(self, t: Tokens) -> Tokens:
        """Apply the block to the token state."""
        t.x = self.run(t.x)
        return t


class TokenBlock(ViTBlock):
    """A block with a token mechanism. `form` selects how it computes (hwbench.blocks.tokens); it starts in
    the first of `forms`' training form, `TRAIN_FORM`; `capacity` is the slot count of the fixed_count form."""

    FORMS: tuple[str, ...] = ()
    TRAIN_FORM = ""
    # Whether the block merges tokens (then it updates Tokens.source, so a dense task can restore the map).
    MERGES = False

    def __init__(self, g: Geometry) -> None:
        super().__init__(g)
        self.form = self.TRAIN_FORM
        self.capacity: int | None = None

    def set_form(self, form: str, capacity: int | None = None) -> None:
        """Switch the form (an attribute, no class swapping); fixed_count needs a capacity."""
        if form not in self.FORMS:
            raise ValueError(f"{type(self).__name__} has no form {form!r}; it has {', '.join(self.FORMS)}")
        if form == "fixed_count" and capacity is None:
            raise ValueError("the fixed_count form needs a capacity (token slots)")
        self.form, self.capacity = form, capacity

    @staticmethod
    def auxiliary_loss(blocks: list[TokenBlock], log: list[Tensor]) -> Tensor | None:
        """The method's training loss term from a training forward's log (None: the method has none)."""
        return None


class ViTParams(Strict):
    """The plain block has no knobs: its size comes from the macro (width, heads, MLP ratio)."""


BLOCKS.register("vit")(
    BlockDef(
        name="vit",
        family="vit",
        description="plain pre-norm ViT block: multi-head self-attention and GELU MLP, every token",
        params=ViTParams,
        build=lambda g, p: ViTBlock(g),
        token_forms=("dense",),
    )
)
