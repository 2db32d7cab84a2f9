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

from hwbench.blocks import get_block
from hwbench.blocks.tokens import FORM_OPS, TokenFormSetting, resolve_form
from hwbench.models.calibrate import calibrate
from hwbench.models.det_vit import ViTDetector
from hwbench.models.vit_deploy import calibration_images, token_capacities
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
    form = resolve_form(spec.block, get_block(spec.block).token_forms, token_form, fmt)
    facts: dict[str, Any] = {"token_form": form, "attention": ATTENTION}
    if form in FORM_OPS:
        facts["uses"] = FORM_OPS[form]
    if not model.token_blocks():
        return facts
    model.set_pruning(True)
    source = source or ("random (seeded)" if images is None else "given")
    images = calibration_images(spec) if images is None else images
    facts["calibration_images"] = {"count": int(images.shape[0]), "source": source}
    knobs = model.token_blocks()[0].params  # type: ignore[attr-defined]
    if not trained and getattr(knobs, "calibrate", False):
        model.set_token_form("mask")
        facts["calibration"] = calibrate(model.vit, images)
    capacities = None
    if form == "fixed_count":
        model.set_token_form("mask")
        capacities = token_capacities(model.vit, images)
        facts["capacities"] = capacities
    model.set_token_form(form, capacities)
    facts["per_input"] = count_per_input(model, images)
    return facts


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
