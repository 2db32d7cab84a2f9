"""A modelled target's options (`runner_options` of a `runner: zigzag` target) and its search-effort levels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# Accelerator descriptions shipped in the zigzag-dse wheel (zigzag/inputs/): preset → (hardware, mapping) file.
# eyeriss_like ships no mapping of its own; ZigZag's examples pair it with the default mapping.
PRESETS: dict[str, tuple[str, str]] = {
    "edge_tpu_like": ("edge_tpu_like.yaml", "edge_tpu_like.yaml"),
    "tpu_like": ("tpu_like.yaml", "tpu_like.yaml"),
    "eyeriss_like": ("eyeriss_like.yaml", "default.yaml"),
    "tesla_npu_like": ("tesla_npu_like.yaml", "tesla_npu_like.yaml"),
    "ascend_like": ("ascend_like.yaml", "ascend_like.yaml"),
    "meta_prototype": ("meta_prototype.yaml", "meta_prototype_like.yaml"),
}


@dataclass(frozen=True)
class Effort:
    """How hard ZigZag searches for each layer's mapping (docs/modelled-targets.md, "Effort levels")."""

    # LOMA's loop-prime-factor limit: temporal loops are split into at most this many prime factors before their
    # orderings are enumerated; the orderings tried grow roughly factorially with it.
    lpf_limit: int
    # Spatial mappings generated per layer when the mapping file leaves some freedom (each gets its own LOMA run).
    spatial_mappings: int

    def settings(self) -> dict[str, Any]:
        """The knobs as they key a result."""
        return {"lpf_limit": self.lpf_limit, "spatial_mappings": self.spatial_mappings}


EFFORTS: dict[str, Effort] = {
    "lowest": Effort(lpf_limit=2, spatial_mappings=1),
    "low": Effort(lpf_limit=4, spatial_mappings=1),
    "medium": Effort(lpf_limit=6, spatial_mappings=3),  # ZigZag's own API defaults
    "high": Effort(lpf_limit=8, spatial_mappings=5),
}


@dataclass(frozen=True)
class ZigzagOptions:
    """`runner_options` of a `runner: zigzag` target."""

    __pydantic_config__ = {"extra": "forbid"}  # read by pydantic when validating targets: a typo is an error

    # A preset name (PRESETS) or the path of an accelerator YAML (relative to the target file).
    accelerator: str
    # The mapping YAML (relative to the target file); default: the preset's own mapping.
    mapping: str | None = None
    # Clock of the modelled accelerator: turns cycles into milliseconds (ZigZag counts cycles only).
    clock_mhz: float = 1000.0
    # What the mapping search minimises for each layer.
    optimise: Literal["latency", "energy"] = "latency"
    effort: Literal["lowest", "low", "medium", "high"] = "low"
    # Networks modelled side by side, each in its own worker process (not part of any result's key).
    workers: int = 1


def model_settings(options: dict[str, Any]) -> dict[str, Any]:
    """What, besides the accelerator and mapping files, keys a modelled result: goal, effort and its knobs."""
    effort = EFFORTS[options["effort"]]
    return {"optimise": options["optimise"], "effort": options["effort"], **effort.settings()}
