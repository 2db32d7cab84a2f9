"""Named int8 recipes: ai-edge-quantizer configurations applied to an fp32 .tflite.

No single int8 is right for every network and device: an Edge TPU needs everything integer, while on
XNNPACK a ViT runs fastest with only its convolutions and matrix products in int8 (measured numbers in
docs/targets.md). A recipe is one registered name here; targets pick it with `export.recipe`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwbench.registry import Registry

DEFAULT_RECIPE = "full_int8"


@dataclass(frozen=True)
class Int8Recipe:
    """A quantization recipe: `configure(fp32_path)` returns a configured ai-edge-quantizer Quantizer."""

    name: str
    description: str
    calibrated: bool
    configure: Callable[[str], Any]


RECIPES: Registry[Int8Recipe] = Registry("int8 recipe")


def get_recipe(name: str) -> Int8Recipe:
    """Look up a recipe by name (raises UnknownNameError listing the valid ones)."""
    return RECIPES.get(name)


def quantize(recipe: Int8Recipe, fp32_path: str, out_path: str, samples: np.ndarray | None) -> dict[str, Any]:
    """Quantize `fp32_path` into `out_path`; `samples` is a batch of float inputs (calibrated recipes)."""
    from ai_edge_litert.interpreter import Interpreter

    start = time.perf_counter()
    quantizer = recipe.configure(fp32_path)
    calibration = None
    if recipe.calibrated:
        if samples is None or not len(samples):
            raise ValueError(f"int8 recipe {recipe.name!r} needs calibration samples")
        [(signature, io)] = Interpreter(model_path=fp32_path).get_signature_list().items()
        [name] = io["inputs"]
        data = {signature: [{name: sample[None]} for sample in samples]}
        # One thread: exports run side by side in worker processes, one core each.
        calibration = quantizer.calibrate(data, num_threads=1)
    result = quantizer.quantize(calibration, enable_progress_bar=False, enable_progress_report=False)
    result.export_model(out_path, overwrite=True)
    return {"quantize_seconds": time.perf_counter() - start}


def _ops(*names: str) -> list[Any]:
    from ai_edge_quantizer import qtyping

    return [getattr(qtyping.TFLOperationName, name) for name in names]


def _full_int8(path: str) -> Any:
    from ai_edge_quantizer import quantizer, recipe

    # int8 weights and activations everywhere, int8 model inputs and outputs: what an Edge TPU needs.
    return quantizer.Quantizer(path, recipe.static_wi8_ai8())


def _mixed_int8(path: str) -> Any:
    from ai_edge_quantizer import quantizer

    q = quantizer.Quantizer(path)
    # BATCH_MATMUL stays float: its int8 form (activation x activation) is not taken by XNNPACK.
    for op in _ops("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        q.add_static_config(regex=".*", operation_name=op, activation_num_bits=8, weight_num_bits=8)
    return q


def _dynamic_int8(path: str) -> Any:
    from ai_edge_quantizer import quantizer

    q = quantizer.Quantizer(path)
    # Dynamic-range depthwise convolutions fall out of XNNPACK (3x slower), so only these two.
    for op in _ops("CONV_2D", "FULLY_CONNECTED"):
        q.add_dynamic_config(regex=".*", operation_name=op, num_bits=8)
    return q


def _weight_only_int8(path: str) -> Any:
    from ai_edge_quantizer import quantizer, recipe

    return quantizer.Quantizer(path, recipe.weight_only_wi8_afp32())


for _recipe in (
    Int8Recipe(
        "full_int8",
        "static int8 weights and activations, int8 inputs/outputs (fully integer; Edge TPU style)",
        True,
        _full_int8,
    ),
    Int8Recipe(
        "mixed_int8",
        "static int8 convolutions and fully-connected layers, float elsewhere and float inputs/outputs",
        True,
        _mixed_int8,
    ),
    Int8Recipe(
        "dynamic_int8",
        "int8 weights of convolutions and fully-connected layers, activations quantized at run time",
        False,
        _dynamic_int8,
    ),
    Int8Recipe(
        "weight_only_int8",
        "int8 weights dequantized to float at load (smaller file, float compute)",
        False,
        _weight_only_int8,
    ),
):
    RECIPES.register(_recipe.name)(_recipe)
