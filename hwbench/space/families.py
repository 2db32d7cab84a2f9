"""Model families (cnn, vit): each names its arch schema, its macro schema and how to assemble a draw."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from hwbench.errors import ConfigError, UnknownNameError
from hwbench.registry import Registry

# Modules that register a family when imported; listed here so lookups never depend on import order.
FAMILY_MODULES = ("hwbench.space.cnn", "hwbench.space.vit", "hwbench.space.detection", "hwbench.space.det_vit")


@dataclass(frozen=True)
class Family:
    """Schemas and the draw function of one model family."""

    name: str
    arch_model: type[BaseModel]
    macro_model: type[BaseModel]
    draw: Callable[[BaseModel, str, dict[str, Any], np.random.Generator], dict[str, Any]]
    builder: str  # "module:function" that turns an ArchSpec into an nn.Module (imported lazily: torch)
    # "module:function" that readies a built model for one export format (ViT token forms); None: as built.
    prepare: str | None = None
    # Key of the random stream a space draws from (default: the space's name), and the network its
    # complexity windows and duplicates are judged on (default: itself). The ViT family uses the macro and
    # the dense backbone, so spaces that differ only in the token mechanism sample the same backbones.
    stream: Callable[[Any], str] | None = None
    backbone: Callable[[Any], Any] | None = None


FAMILIES: Registry[Family] = Registry("model family")


def get_family(name: str, source: str | Path | None = None, key: str = "family") -> Family:
    """Look up a family, raising a ConfigError that names the file and key."""
    for module in FAMILY_MODULES:
        import_module(module)
    try:
        return FAMILIES.get(name)
    except UnknownNameError as exc:
        raise ConfigError(source, key, str(exc)) from None
