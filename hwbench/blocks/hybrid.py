"""Hybrid: the block (and its knobs) chosen per stage, e.g. Fused-MBConv early and MBConv late (EfficientNetV2).

A stage's params name its block and carry that block's knobs: `{block: fused_mbconv, expansion: 4}`. In a space,
`block_params.block` samples the block; a knob written `knob` applies to every chosen block that has it, one
written `block.knob` only to that block (it wins over the plain one).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from hwbench.blocks import BLOCK_MODULES, BLOCKS, BlockDef, block_names, get_block


def inner_blocks() -> list[str]:
    """The CNN blocks a hybrid stage may name (every CNN block but the composite ones)."""
    return block_names("cnn")


class HybridParams(BaseModel):
    """The stage's block and that block's knobs, defaults filled in (stored flat: {block, knob, ...})."""

    model_config = ConfigDict(extra="allow", frozen=True)

    block: str

    @model_validator(mode="before")
    @classmethod
    def _inner_knobs(cls, data: Any) -> Any:
        """Validate the knobs with the named block's own schema."""
        from hwbench.registry import unknown_name_message

        if not isinstance(data, dict) or not isinstance(data.get("block"), str):
            return data  # the schema reports a missing or non-string block
        name, names = data["block"], inner_blocks()
        if name not in names:
            raise ValueError(unknown_name_message("block of a hybrid stage", name, names))
        knobs = {k: v for k, v in data.items() if k != "block"}
        try:
            params = get_block(name).params.model_validate(knobs)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ValueError(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']} (block {name})") from None
        return {"block": name, **params.model_dump(mode="json")}

    def inner(self) -> BaseModel:
        """The chosen block's own params."""
        return get_block(self.block).params.model_validate(self.model_extra or {})


def pick_knobs(drawn: dict[str, Any]) -> dict[str, Any]:
    """One stage's drawn knobs → its params: the chosen block's plain knobs, then its `block.knob` ones."""
    name = drawn["block"]
    valid = set(get_block(name).params.model_fields)
    picked: dict[str, Any] = {"block": name}
    picked.update({k: v for k, v in drawn.items() if "." not in k and k in valid})
    prefix = f"{name}."
    picked.update({k.removeprefix(prefix): v for k, v in drawn.items() if k.startswith(prefix)})
    return picked


def _version() -> int:
    """Changes whenever a wrapped block's version does, so hybrid artifacts are rebuilt with it."""
    for module in BLOCK_MODULES:  # the wrapped blocks must be registered before the sum is taken
        if module != __name__:
            import_module(module)
    return sum(get_block(n).version for n in inner_blocks())


BLOCKS.register("hybrid")(
    BlockDef(
        name="hybrid",
        family="cnn",
        description="the block chosen per stage: each stage's params name a CNN block and carry its knobs",
        params=HybridParams,
        build=lambda cin, cout, stride, p: get_block(p.block).build(cin, cout, stride, p.inner()),
        version=_version(),
        composite=pick_knobs,
    )
)
