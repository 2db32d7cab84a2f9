"""The ViT family: arch schema (patch embedding, depth × one block type, class-token head), the shared macro
schema and how to draw from it. Every ViT space with the same macro draws the same backbones for a seed."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from hwbench.config import Strict
from hwbench.space.constraints import Constraints
from hwbench.space.families import FAMILIES, Family
from hwbench.space.samplers import Param, Sampler, draw_param, param_extremes


class ViTArch(Strict):
    """A concrete ViT: conv patch embedding, class token, learned positions, `depth` blocks, LayerNorm, linear."""

    family: Literal["vit"] = "vit"
    block: str
    resolution: int = Field(ge=8, le=4096)
    in_channels: int = Field(3, ge=1, le=64)
    num_classes: int = Field(ge=1, le=100_000)
    patch: int = Field(ge=1, le=256)
    depth: int = Field(ge=1, le=64)
    width: int = Field(ge=1, le=8192)
    heads: int = Field(ge=1, le=256)
    mlp_ratio: float = Field(gt=0, le=16)
    params: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _normalise_params(cls, data: Any) -> Any:
        """Validate the block's knobs with its own schema and fill in the defaults."""
        from hwbench.blocks import block_names, get_block
        from hwbench.registry import unknown_name_message

        if not isinstance(data, dict) or "block" not in data:
            return data
        names = block_names("vit")
        if data["block"] not in names:
            raise ValueError(unknown_name_message("vit block", data["block"], names))
        try:
            params = get_block(data["block"]).params.model_validate(data.get("params") or {})
        except Exception as exc:  # pydantic ValidationError: keep the first message, add the path
            err = exc.errors()[0]  # type: ignore[attr-defined]
            raise ValueError(f"params.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
        return {**data, "params": params.model_dump(mode="json")}

    @model_validator(mode="after")
    def _consistent(self) -> ViTArch:
        from hwbench.blocks import get_block

        if self.resolution % self.patch:
            raise ValueError(f"resolution {self.resolution} is not a multiple of the patch size {self.patch}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not a multiple of heads {self.heads}")
        check = get_block(self.block).check
        if check is not None:
            check(self)
        return self

    @property
    def num_tokens(self) -> int:
        """Patch tokens plus the class token."""
        return (self.resolution // self.patch) ** 2 + 1


class ViTMacro(Strict):
    """The shared ViT macro: everything but the block (the token mechanism)."""

    family: Literal["vit"] = "vit"
    description: str = ""
    resolution: Param = 224
    in_channels: int = Field(3, ge=1, le=64)
    num_classes: int = Field(1000, ge=1, le=100_000)
    patch: Param = 16
    depth: Param
    width: Param
    heads: Param
    mlp_ratio: Param = 4
    constraints: Constraints = Constraints()

    @model_validator(mode="after")
    def _heads_divide_widths(self) -> ViTMacro:
        """Every width a draw can reach must split into every head count (checked on the sampler's grid)."""
        for p in (self.depth, self.width, self.heads, self.patch):
            if (isinstance(p, Sampler) and p.per_stage) or isinstance(p, list):
                raise ValueError("ViT macro knobs take one value per network (no per_stage, no lists)")
        steps = [self.width.quantize] if isinstance(self.width, Sampler) and self.width.choice is None else []
        heads_values = _all(self.heads) if isinstance(self.heads, Sampler) else param_extremes(self.heads)
        for heads in heads_values:
            for width in [*param_extremes(self.width), *steps]:
                if int(width) % int(heads):
                    raise ValueError(
                        f"width {width} is not a multiple of heads {heads}: quantize widths by a "
                        "multiple of every head count"
                    )
        return self


def _all(sampler: Sampler) -> list[Any]:
    """Every value of a choice sampler, the edges of any other."""
    return list(sampler.choice) if sampler.choice is not None else sampler.extremes()


def draw_vit(macro: ViTMacro, block: str, block_params: dict[str, Param], rng: np.random.Generator) -> dict:
    """Draw one ViT arch dict. The backbone comes first and the knobs from a generator split off with one
    draw, so the backbone stream is the same whatever the block and its knobs."""
    backbone = {
        key: draw_param(getattr(macro, key), rng, 1)
        for key in ("resolution", "patch", "depth", "width", "heads", "mlp_ratio")
    }
    knob_rng = np.random.default_rng(int(rng.integers(2**63)))
    params = {k: draw_param(block_params[k], knob_rng, 1) for k in sorted(block_params)}
    return {
        "family": "vit",
        "block": block,
        "in_channels": macro.in_channels,
        "num_classes": macro.num_classes,
        **backbone,
        "params": params,
    }


def macro_stream(space: Any) -> str:
    """Random-stream key of a ViT space: its macro, so spaces that share a macro draw paired backbones."""
    text = space.macro.model_dump_json()
    return "vit-macro:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def dense_counterpart(spec: Any) -> Any:
    """The same backbone with the plain block: what a token-reduced ViT is compared with."""
    from hwbench.space.archspec import ArchSpec

    if spec.block == "vit":
        return spec
    return ArchSpec.from_dict({**spec.to_dict(), "block": "vit", "params": {}})


FAMILIES.register("vit")(
    Family(
        name="vit",
        arch_model=ViTArch,
        macro_model=ViTMacro,
        draw=draw_vit,  # type: ignore[arg-type]
        builder="hwbench.models.vit:build_vit",
        prepare="hwbench.models.vit_deploy:prepare_vit",
        stream=macro_stream,
        backbone=dense_counterpart,
    )
)
