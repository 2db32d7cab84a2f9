"""Ready a ViT detector for export: its token form per export profile (as for the classification ViTs:
hwbench.models.vit_deploy), selectors of an untrained one calibrated to their targets, fixed-count buffers sized
on the given images, and per image the tokens kept per block and the MACs of the whole detector and its backbone.

Dense and pruned detectors compute attention with the same module (hwbench.blocks.vit.Attention: explicit
matmul-softmax-matmul) in every form: a speed-up can come from the pruning only, never from a faster kernel.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from hwbench.blocks.tokens import TokenFormSetting
from hwbench.models.det_vit import ViTDetector
from hwbench.models.vit_deploy import prepare_tokens
from hwbench.space.archspec import ArchSpec

ATTENTION = "explicit matmul-softmax-matmul (hwbench.blocks.vit.Attention), the same in dense and pruned detectors"


def prepare_det_vit(
    model: ViTDetector,
    spec: ArchSpec,
    fmt: str,
    token_form: TokenFormSetting = "auto",
    images: Tensor | None = None,
    trained: bool = False,
    source: str | None = None,
) -> dict[str, Any]:
    """Put `model` in the token form the export profile asks for; return what the export record keeps."""
    model.set_pruning(True)  # selectors on (a no-op without token blocks)
    facts = {"attention": ATTENTION}
    return prepare_tokens(model, model.vit, spec, fmt, token_form, images, trained, source, count_per_input, facts)


def count_per_input(model: ViTDetector, images: Tensor) -> list[dict[str, Any]]:
    """Per image at batch 1 in the model's current form: tokens kept per pruning block, and the MACs of the whole
    detector and of its backbone alone (matmuls and convs, as hwbench.models.complexity counts them)."""
    if model.token_form == "dynamic":  # the cost follows the image
        return [_count(model, images[i : i + 1]) for i in range(images.shape[0])]
    first = _count(model, images[:1])
    with torch.no_grad():
        log = model.forward_tokens(images, record=True).log
    counts = torch.stack([m.sum(dim=-1) for m in log], dim=1).int().tolist() if log else [[]] * images.shape[0]
    return [{"tokens": c, "macs": first["macs"], "backbone_macs": first["backbone_macs"]} for c in counts]


def _count(model: ViTDetector, image: Tensor) -> dict[str, Any]:
    backbone, whole = FlopCounterMode(display=False), FlopCounterMode(display=False)
    with torch.no_grad():
        with backbone:
            t = model.forward_tokens(image, record=True)
            grid = model.token_map(t)
        with whole:
            model.head(model.pyramid(grid))
    b = int(backbone.get_total_flops() // 2)
    return {
        "tokens": [int(m.sum().item()) for m in t.log],
        "macs": b + int(whole.get_total_flops() // 2),
        "backbone_macs": b,
    }
