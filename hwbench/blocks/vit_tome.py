"""vit_tome: ToMe token merging between attention and MLP, r merges per block from a schedule."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hwbench.blocks import BLOCKS, BlockDef
from hwbench.blocks.tokens.merge import bipartite_match, merge, merge_sources, tome_schedule
from hwbench.blocks.vit import Geometry, TokenBlock, Tokens
from hwbench.config import Strict


class ToMeParams(Strict):
    """Merges per block: `r` each (constant), or 2r falling linearly to 0 (decreasing); clamped per block."""

    r: int = Field(8, ge=0, le=4096)
    schedule: Literal["constant", "decreasing"] = "constant"


class ToMeBlock(TokenBlock):
    """Attention with proportional attention (log size), then merge r pairs, then the MLP."""

    FORMS = ("topk", "sort_free")
    TRAIN_FORM = "topk"
    MERGES = True

    def __init__(self, g: Geometry, p: ToMeParams) -> None:
        super().__init__(g)
        self.r = tome_schedule(g.num_tokens, g.depth, p.r, p.schedule)[g.index]
        self.params = p

    def forward(self, t: Tokens) -> Tokens:
        """Merge; the token count drops by r (static). A tracked `source` follows each patch to its token."""
        size = t.size if t.size is not None else t.x.new_ones(t.x.shape[:2])
        x, keys, _ = self.attend(t.x, size)
        source = t.source
        if self.r > 0:
            best, partner = bipartite_match(keys)
            x, size = merge(x, size, best, partner, self.r, self.form)  # type: ignore[arg-type]
            if source is not None:
                source = merge_sources(source, best, partner, self.r, self.form)  # type: ignore[arg-type]
        if t.record:
            t.log.append(size.new_ones(size.shape))
        return Tokens(self.ffn(x), size, None, t.record, t.log, source)


BLOCKS.register("vit_tome")(
    BlockDef(
        name="vit_tome",
        family="vit",
        description="ToMe: merge the r most similar token pairs per block (size-weighted, proportional attention)",
        params=ToMeParams,
        build=lambda g, p: ToMeBlock(g, p),
        token_forms=ToMeBlock.FORMS,
    )
)
