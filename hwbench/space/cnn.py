"""The CNN family: arch schema (stem, stages, head), the shared macro schema and how to draw from it."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from hwbench.blocks import Act, get_block
from hwbench.config import Strict
from hwbench.space.constraints import Constraints
from hwbench.space.families import FAMILIES, Family
from hwbench.space.samplers import Param, draw_param


class StemSpec(Strict):
    """Stem: one conv-BN-act, then (max_pool) a 3x3 stride-2 max-pool as in ResNet."""

    width: int = Field(gt=0)
    kernel: int = Field(3, ge=1, le=11)
    stride: int = Field(2, ge=1, le=4)
    act: Act = "relu"
    max_pool: bool = False

    @model_validator(mode="after")
    def _even_kernel_tiles(self) -> StemSpec:
        # An even kernel is padded by (kernel - stride) / 2 a side (a patchify stem when kernel == stride),
        # so the output is exactly resolution / stride; other even kernels would need lopsided padding.
        if self.kernel % 2 == 0 and (self.kernel < self.stride or (self.kernel - self.stride) % 2):
            raise ValueError(
                f"kernel {self.kernel}: an even stem kernel needs kernel - stride even and >= 0 (stride {self.stride})"
            )
        return self

    @model_serializer(mode="wrap")
    def _omit_default_pool(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Written only when set, so every stem stored before the option existed keeps its arch_id.
        data = handler(self)
        if not self.max_pool:
            data.pop("max_pool", None)
        return data

    @property
    def padding(self) -> int:
        """Padding a side: 'same' for odd kernels, (kernel - stride) / 2 for even ones (patchify: 0)."""
        return self.kernel // 2 if self.kernel % 2 else (self.kernel - self.stride) // 2

    @property
    def total_stride(self) -> int:
        """Downsampling of the stem: its conv stride, times 2 with the max-pool."""
        return self.stride * (2 if self.max_pool else 1)


class StageSpec(Strict):
    """One stage: `depth` blocks of output `width`; the first block applies `stride`."""

    depth: int = Field(ge=1, le=64)
    width: int = Field(ge=1, le=8192)
    stride: int = Field(ge=1, le=4)
    params: dict[str, Any] = {}


class HeadSpec(Strict):
    """Head: optional 1x1 conv to `width` (0 = none), global average pool, dropout, linear classifier."""

    width: int = Field(1280, ge=0, le=16384)
    act: Act = "relu"
    dropout: float = Field(0.0, ge=0, lt=1)


class CNNArch(Strict):
    """A concrete CNN: stem, a list of stages built from one block type, head."""

    family: Literal["cnn"] = "cnn"
    block: str
    resolution: int = Field(ge=8, le=4096)
    in_channels: int = Field(3, ge=1, le=64)
    num_classes: int = Field(ge=1, le=100_000)
    stem: StemSpec
    stages: list[StageSpec] = Field(min_length=1, max_length=12)
    head: HeadSpec = HeadSpec()

    @model_validator(mode="before")
    @classmethod
    def _normalise_block_params(cls, data: Any) -> Any:
        """Validate each stage's params with the block's own schema and fill in its defaults."""
        from hwbench.blocks import block_names, get_block
        from hwbench.registry import unknown_name_message

        if not isinstance(data, dict) or "block" not in data or not isinstance(data.get("stages"), list):
            return data
        name = data["block"]
        names = block_names("cnn", composite=True)
        if name not in names:
            raise ValueError(unknown_name_message("cnn block", name, names))
        block = get_block(name)
        stages = []
        for i, stage in enumerate(data["stages"]):
            if isinstance(stage, dict):
                raw = stage.get("params") or {}
                try:
                    params = block.params.model_validate(raw)
                except Exception as exc:  # pydantic ValidationError: keep the first message, add the path
                    err = exc.errors()[0]  # type: ignore[attr-defined]
                    loc = ".".join(["params", *(str(p) for p in err["loc"])])
                    msg = str(err["msg"]).removeprefix("Value error, ")
                    raise ValueError(f"stages.{i}.{loc}: {msg}") from None
                stage = {**stage, "params": params.model_dump(mode="json")}
            stages.append(stage)
        return {**data, "stages": stages}

    @model_validator(mode="after")
    def _fits_resolution(self) -> CNNArch:
        stride = self.stem.total_stride
        for stage in self.stages:
            stride *= stage.stride
        if stride > self.resolution:
            raise ValueError(f"total stride {stride} exceeds the input resolution {self.resolution}")
        return self


class MacroStem(Strict):
    """Stem knobs of the macro (width may be sampled)."""

    width: Param = 32
    kernel: int = Field(3, ge=1, le=11)
    stride: int = Field(2, ge=1, le=4)
    act: Act = "relu"


class MacroStages(Strict):
    """Per-stage depth, width and stride samplers; `count` stages."""

    count: int = Field(4, ge=1, le=12)
    depth: Param
    width: Param
    stride: Param = 2


class MacroHead(Strict):
    """Head knobs of the macro."""

    width: Param = 1280
    act: Act = "relu"
    dropout: float = Field(0.0, ge=0, lt=1)


class CNNMacro(Strict):
    """The shared CNN macro: everything but the block."""

    family: Literal["cnn"] = "cnn"
    description: str = ""
    resolution: Param = 224
    in_channels: int = Field(3, ge=1, le=64)
    num_classes: int = Field(1000, ge=1, le=100_000)
    stem: MacroStem = MacroStem()
    stages: MacroStages
    head: MacroHead = MacroHead()
    constraints: Constraints = Constraints()


def _per_stage(value: Any, count: int) -> list[Any]:
    """Broadcast a scalar to every stage; check a list's length."""
    if isinstance(value, list):
        if len(value) != count:
            raise ValueError(f"expected {count} per-stage values, got {len(value)}: {value}")
        return value
    return [value] * count


def draw_cnn(macro: CNNMacro, block: str, block_params: dict[str, Param], rng: np.random.Generator) -> dict:
    """Draw one CNN arch dict; the draw order is fixed so a seed means the same arch on every machine."""
    n = macro.stages.count
    resolution = draw_param(macro.resolution, rng, n)
    stem_width = draw_param(macro.stem.width, rng, n)
    depth = _per_stage(draw_param(macro.stages.depth, rng, n), n)
    width = _per_stage(draw_param(macro.stages.width, rng, n), n)
    stride = _per_stage(draw_param(macro.stages.stride, rng, n), n)
    head_width = draw_param(macro.head.width, rng, n)
    knobs = {k: _per_stage(draw_param(block_params[k], rng, n), n) for k in sorted(block_params)}
    # Every knob is drawn whatever block a hybrid stage gets, so the stream never depends on that choice.
    pick = get_block(block).composite or dict
    stages = [
        {
            "depth": depth[i],
            "width": width[i],
            "stride": stride[i],
            "params": pick({k: v[i] for k, v in knobs.items()}),
        }
        for i in range(n)
    ]
    return {
        "family": "cnn",
        "block": block,
        "resolution": resolution,
        "in_channels": macro.in_channels,
        "num_classes": macro.num_classes,
        "stem": {
            "width": stem_width,
            "kernel": macro.stem.kernel,
            "stride": macro.stem.stride,
            "act": macro.stem.act,
        },
        "stages": stages,
        "head": {"width": head_width, "act": macro.head.act, "dropout": macro.head.dropout},
    }


FAMILIES.register("cnn")(
    Family(
        name="cnn",
        arch_model=CNNArch,
        macro_model=CNNMacro,
        draw=draw_cnn,  # type: ignore[arg-type]
        builder="hwbench.models.cnn:build_cnn",
    )
)
