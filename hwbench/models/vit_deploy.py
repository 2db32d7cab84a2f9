"""Ready a ViT for export: choose its token form, calibrate an untrained one, size fixed-count buffers,
and count tokens and MACs per input (the token count of LTMP and the pruner depends on the image)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from hwbench.blocks import get_block
from hwbench.blocks.tokens import FORM_OPS, TokenFormSetting, resolve_form
from hwbench.models.calibrate import calibrate
from hwbench.models.vit import VisionTransformer
from hwbench.space.archspec import ArchSpec

# Images the untrained reduction is calibrated on and fixed-count buffers are sized on when the sweep has no
# dataset: seeded random images; the first one is the input parity is checked on. With a dataset, the sweep
# passes DATASET_IMAGES of its images instead (hwbench.pipeline.token_inputs).
CALIBRATION_IMAGES = 8
DATASET_IMAGES = 32


def calibration_images(spec: ArchSpec, n: int = CALIBRATION_IMAGES) -> Tensor:
    """n seeded random images of the spec's input shape; the first equals example_input(spec)."""
    from hwbench.models import example_input

    return example_input(spec, batch=n, seed=0)


def prepare_vit(
    model: VisionTransformer,
    spec: ArchSpec,
    fmt: str,
    token_form: TokenFormSetting = "auto",
    images: Tensor | None = None,
    trained: bool = False,
    source: str | None = None,
) -> dict[str, Any]:
    """Put `model` in the token form the export profile asks for; return what the export record keeps.

    An untrained model's reduction is first calibrated to its block's targets (LTMP: the FLOPs budget;
    pruner: the keep ratios) on `images`, unless its `calibrate` knob is off; a fixed_count form gets
    per-block slot counts = the most tokens any of `images` keeps in that block. `source` names where
    `images` come from (a dataset id, "random (seeded)"; default "given").
    """
    return prepare_tokens(model, model, spec, fmt, token_form, images, trained, source, count=count_per_input)


def prepare_tokens(
    model: Any,
    vit: VisionTransformer,
    spec: ArchSpec,
    fmt: str,
    token_form: TokenFormSetting,
    images: Tensor | None,
    trained: bool,
    source: str | None,
    count: Callable[[Any, Tensor], list[dict[str, Any]]],
    facts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """prepare_vit for any network whose token blocks are those of `vit` (a ViT, or a detector around one): `count`
    counts its per-input cost; `facts` are recorded right after the token form."""
    form = resolve_form(spec.block, get_block(spec.block).token_forms, token_form, fmt)
    facts = {"token_form": form, **(facts or {})}
    if form in FORM_OPS:
        facts["uses"] = FORM_OPS[form]
    if not model.token_blocks():
        return facts
    source = source or ("random (seeded)" if images is None else "given")
    images = calibration_images(spec) if images is None else images
    facts["calibration_images"] = {"count": int(images.shape[0]), "source": source}
    knobs = model.token_blocks()[0].params
    if not trained and getattr(knobs, "calibrate", False):
        model.set_token_form(model.token_blocks()[0].TRAIN_FORM)
        facts["calibration"] = calibrate(vit, images)
    capacities = None
    if form == "fixed_count":
        model.set_token_form("mask")
        capacities = token_capacities(vit, images)
        facts["capacities"] = capacities
    model.set_token_form(form, capacities)
    facts["per_input"] = count(model, images)
    return facts


def token_capacities(model: VisionTransformer, images: Tensor) -> list[int]:
    """Per token block, the most tokens any image keeps (the model's current form must not drop any)."""
    with torch.no_grad():
        log = model.forward_tokens(images, record=True).log
    return [int(m.sum(dim=-1).max().item()) for m in log]


def count_per_input(model: VisionTransformer, images: Tensor) -> list[dict[str, Any]]:
    """For each image at batch 1, in the model's current form: tokens alive (or kept) after each token block,
    and the MACs the form computes (matmuls and convs, as hwbench.models.complexity counts them)."""
    if model.token_form == "dynamic":  # batch 1 by construction, and the cost depends on the image
        return [_count(model, images[i : i + 1]) for i in range(images.shape[0])]
    # Static shapes: one count of the cost, the token counts of all images from one batched pass.
    macs = _count(model, images[:1])["macs"]
    with torch.no_grad():
        log = model.forward_tokens(images, record=True).log
    counts = torch.stack([m.sum(dim=-1) for m in log], dim=1).int().tolist() if log else [[]] * images.shape[0]
    return [{"tokens": c, "macs": macs} for c in counts]


def _count(model: VisionTransformer, image: Tensor) -> dict[str, Any]:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        t = model.forward_tokens(image, record=True)
        model.head(model.norm(t.x[:, 0]))
    return {"tokens": [int(m.sum().item()) for m in t.log], "macs": int(counter.get_total_flops() // 2)}
