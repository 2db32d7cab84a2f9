"""Tiny ViTs for tests: 32 px, patch 8 (17 tokens), width 32, 2 heads; variants carry the dense weights."""

from __future__ import annotations

from typing import Any

import torch

from hwbench.models import build_model
from hwbench.models.vit import VisionTransformer
from hwbench.space.archspec import ArchSpec

# Tiny tensors: on a busy 2-core machine, handing each op to a second thread costs ~10 ms (measured), 1000x the op.
torch.set_num_threads(1)

N = 17  # 4x4 patches + the class token
TINY = {"family": "vit", "resolution": 32, "num_classes": 10, "patch": 8, "width": 32, "heads": 2, "mlp_ratio": 2}
TOKEN_BLOCKS = ["vit_tome", "vit_ltmp", "vit_mlp_prune"]
# Knobs that reduce clearly on the tiny network; the pruner prunes from block 1 on.
REDUCING = {"vit": {}, "vit_tome": {"r": 3}, "vit_ltmp": {"flops_target": 0.6}, "vit_mlp_prune": {"skip_first": 1}}


def tiny_spec(block: str, depth: int = 4, **params: Any) -> ArchSpec:
    """A tiny spec of the block with its knobs."""
    return ArchSpec.from_dict({**TINY, "depth": depth, "block": block, "params": params})


def tiny_model(block: str, depth: int = 4, **params: Any) -> VisionTransformer:
    """A tiny model whose backbone weights are those of the dense ViT of the same backbone."""
    dense = build_model(tiny_spec("vit", depth))
    model = build_model(tiny_spec(block, depth, **params))
    missing, unexpected = model.load_state_dict(dense.state_dict(), strict=False)
    assert not unexpected and all("threshold" in k or "selector" in k for k in missing)
    return model.eval()  # type: ignore[return-value]


def images(n: int = 2, seed: int = 1) -> torch.Tensor:
    """Random images of the tiny input shape."""
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def set_ltmp(model: VisionTransformer, merge: float, prune: float) -> VisionTransformer:
    """The same thresholds in every LTMP block."""
    with torch.no_grad():
        for b in model.token_blocks():
            b.merge_threshold.fill_(merge)  # type: ignore[union-attr]
            b.prune_threshold.fill_(prune)  # type: ignore[union-attr]
    return model
