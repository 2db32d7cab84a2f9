"""Checks of a block space's `block_params` before anything is drawn: each knob exists and its values fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from hwbench.errors import ConfigError
from hwbench.space.samplers import Param, param_extremes


def value_error(params_model: type[BaseModel], knob: str, param: Any) -> str | None:
    """The first reachable value of `param` that the block's schema refuses for `knob`, as a message."""
    try:
        extremes = param_extremes(TypeAdapter(Param).validate_python(param))
    except Exception:  # a malformed sampler: the space schema reports it
        return None
    for value in extremes:
        try:
            params_model.model_validate({knob: value})
        except Exception as exc:
            return f"{exc.errors()[0]['msg']} (got {value!r})"  # type: ignore[attr-defined]
    return None


def knob_errors(path: Path, block: str, block_params: dict[str, Any]) -> list[ConfigError]:
    """Every knob of a one-block space is the block's, with values it accepts."""
    from hwbench.blocks import get_block
    from hwbench.registry import unknown_name_message

    params_model = get_block(block).params
    valid = sorted(params_model.model_fields)
    errors = []
    for key, param in block_params.items():
        if key not in valid:
            errors.append(ConfigError(path, f"block_params.{key}", unknown_name_message("block knob", key, valid)))
        elif (msg := value_error(params_model, key, param)) is not None:
            errors.append(ConfigError(path, f"block_params.{key}", msg))
    return errors


def hybrid_knob_errors(path: Path, block_params: dict[str, Any]) -> list[ConfigError]:
    """A hybrid space: `block` draws CNN blocks; `knob` fits some drawn block, `block.knob` that block."""
    from hwbench.blocks import get_block
    from hwbench.blocks.hybrid import inner_blocks
    from hwbench.registry import unknown_name_message

    if "block" not in block_params:
        return [ConfigError(path, "block_params.block", "required: the blocks a hybrid stage is drawn from")]
    try:
        drawn = [str(v) for v in param_extremes(TypeAdapter(Param).validate_python(block_params["block"]))]
    except Exception:  # a malformed sampler: the space schema reports it
        return []
    names = inner_blocks()
    errors = [
        ConfigError(path, "block_params.block", unknown_name_message("block of a hybrid stage", b, names))
        for b in dict.fromkeys(drawn)
        if b not in names
    ]
    blocks = [b for b in dict.fromkeys(drawn) if b in names]
    for key, param in block_params.items():
        if key == "block":
            continue
        owner, _, knob = key.rpartition(".")
        if owner and owner not in blocks:
            msg = f"{owner!r} is not among the blocks this space draws ({', '.join(blocks)})"
            errors.append(ConfigError(path, f"block_params.{key}", msg))
            continue
        having = [b for b in ([owner] if owner else blocks) if knob in get_block(b).params.model_fields]
        if not having:
            knobs = sorted({k for b in ([owner] if owner else blocks) for k in get_block(b).params.model_fields})
            errors.append(ConfigError(path, f"block_params.{key}", unknown_name_message("block knob", knob, knobs)))
            continue
        for b in having:
            if (msg := value_error(get_block(b).params, knob, param)) is not None:
                errors.append(ConfigError(path, f"block_params.{key}", f"{msg} for {b}"))
                break
    return errors
