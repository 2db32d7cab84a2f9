"""ArchSpec → nn.Module, with deterministic weights derived from the arch_id."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import torch
from torch import nn

from hwbench.space.archspec import ArchSpec
from hwbench.space.families import get_family


def build_model(spec: ArchSpec, *, seed: int | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """Build the network of `spec` in eval mode; weights are seeded from the arch_id unless `seed` is given."""
    family = get_family(spec.family)
    module_name, func_name = family.builder.split(":")
    build = getattr(import_module(module_name), func_name)
    weight_seed = int(spec.arch_id[:8], 16) if seed is None else seed
    # fork_rng keeps the caller's global RNG untouched while weights are initialised reproducibly.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(weight_seed)
        with torch.device(device):
            model = build(spec.arch)
    return model.eval()


def example_input(spec: ArchSpec, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """A seeded standard-normal input of the spec's shape (NCHW)."""
    generator = torch.Generator().manual_seed(seed)
    arch = spec.arch
    shape = (batch, arch.in_channels, arch.resolution, arch.resolution)  # type: ignore[attr-defined]
    return torch.randn(shape, generator=generator)


def prepare_for_export(
    model: nn.Module, spec: ArchSpec, fmt: str, token_form: Any = "auto", **kwargs: Any
) -> dict[str, Any]:
    """Ready a built model for one export format (ViT token forms); returns facts for the export record."""
    family = get_family(spec.family)
    if family.prepare is None:
        return {}
    module_name, func_name = family.prepare.split(":")
    return getattr(import_module(module_name), func_name)(model, spec, fmt, token_form, **kwargs)
