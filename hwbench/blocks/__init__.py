"""Building blocks, one family per file, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Literal

from pydantic import AfterValidator, BaseModel

from hwbench.registry import Registry

# Importing these modules registers their blocks; the list keeps lookups independent of import order.
BLOCK_MODULES = (
    "hwbench.blocks.mbconv",
    "hwbench.blocks.fused_mbconv",
    "hwbench.blocks.resnet_bottleneck",
    "hwbench.blocks.basic",
    "hwbench.blocks.convnext",
    "hwbench.blocks.vit",
    "hwbench.blocks.vit_tome",
    "hwbench.blocks.vit_ltmp",
    "hwbench.blocks.vit_mlp_prune",
    "hwbench.blocks.hybrid",  # last: it wraps the CNN blocks above
)


@dataclass(frozen=True)
class BlockDef:
    """A registered block: its family, knobs (a pydantic model) and constructor."""

    name: str
    family: str
    description: str
    params: type[BaseModel]
    build: Callable[..., Any]
    # Bump when the implementation changes what a spec builds, so cached artifacts are not reused.
    version: int = 1
    # ViT blocks: the deploy forms the block exports in, best first (see hwbench.blocks.tokens).
    token_forms: tuple[str, ...] = ()
    # Validates the knobs against the whole architecture (raise ValueError), where one block's knobs are not enough.
    check: Callable[[Any], None] | None = None
    # A block that builds another block chosen per stage (hybrid): turns one stage's drawn knobs into its params.
    # Such a block is no block of its own, so block_names() leaves it out unless asked.
    composite: Callable[[dict[str, Any]], dict[str, Any]] | None = None


BLOCKS: Registry[BlockDef] = Registry("block")

# Activation names accepted by every block (kept here, torch-free, so specs validate without torch).
Act = Literal["relu", "relu6", "silu", "gelu", "hardswish", "identity"]


def _odd(value: int) -> int:
    if value % 2 == 0:
        raise ValueError(f"kernel must be odd, got {value}")
    return value


# A kxk conv's kernel must be odd (symmetric padding keeps the size); after a knob's own bounds, as
# `kernel: Annotated[int, Field(ge=1, le=11), OddKernel] = 3`.
OddKernel = AfterValidator(_odd)


def get_block(name: str) -> BlockDef:
    """Look up a block by name (raises UnknownNameError with suggestions)."""
    load_all()
    return BLOCKS.get(name)


def block_names(family: str | None = None, composite: bool = False) -> list[str]:
    """Registered block names, optionally of one family; composite blocks (hybrid) only when asked."""
    load_all()
    return [
        n
        for n in BLOCKS.names()
        if (family is None or BLOCKS.get(n).family == family) and (composite or BLOCKS.get(n).composite is None)
    ]


def load_all() -> None:
    """Import every block module so the registry is complete."""
    for module in BLOCK_MODULES:
        import_module(module)
