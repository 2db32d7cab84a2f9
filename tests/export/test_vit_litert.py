"""The static token forms convert with litert-torch and run in LiteRT with PyTorch's outputs; the sort-based
and data-dependent forms are refused by the converter (so `auto` never picks them for TFLite)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hwbench.blocks import block_names, get_block
from hwbench.blocks.tokens import STATIC_FORMS
from hwbench.models import build_model
from hwbench.models.vit_deploy import prepare_vit
from tests.vit_helpers import REDUCING, images, tiny_spec

pytestmark = pytest.mark.export

STATIC = [(b, f) for b in block_names("vit") for f in get_block(b).token_forms if f in STATIC_FORMS or f == "dense"]


def prepared(block: str, form: str) -> tuple[torch.nn.Module, torch.Tensor]:
    # One block: conversion time grows with the graph, and one block holds every operator of the form.
    knobs = {**REDUCING[block], "skip_first": 0} if block == "vit_mlp_prune" else REDUCING[block]
    spec = tiny_spec(block, depth=1, **knobs)
    model = build_model(spec)
    prepare_vit(model, spec, "tflite", form)
    return model, images(1)


def convert(model: torch.nn.Module, x: torch.Tensor, path: Path) -> Path:
    import litert_torch

    litert_torch.config.show_progress = False
    litert_torch.convert(model, (x,)).export(str(path))
    return path


@pytest.mark.parametrize(("block", "form"), STATIC)
def test_static_forms_convert_and_run_in_litert(tmp_path: Path, block: str, form: str) -> None:
    from ai_edge_litert.interpreter import Interpreter

    model, x = prepared(block, form)
    interpreter = Interpreter(model_path=str(convert(model, x, tmp_path / "m.tflite")), num_threads=1)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    batch = torch.cat([images(1, seed=7), torch.zeros(1, 3, 32, 32), torch.linspace(-2, 2, 32).expand(1, 3, 32, 32)])
    for i in range(batch.shape[0]):
        interpreter.set_tensor(inp, batch[i : i + 1].numpy())
        interpreter.invoke()
        with torch.no_grad():
            ref = model(batch[i : i + 1]).numpy()
        np.testing.assert_allclose(interpreter.get_tensor(out), ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize(("block", "form"), [("vit_tome", "topk"), ("vit_ltmp", "dynamic")])
def test_litert_torch_refuses_sorts_and_data_dependent_shapes(tmp_path: Path, block: str, form: str) -> None:
    model, x = prepared(block, form)
    with pytest.raises(Exception) as info:
        convert(model, x, tmp_path / "m.tflite")
    message = str(info.value)
    if form == "topk":  # the sort's comparator
        assert "comparator" in message and "tensor<i64>" in message
    else:  # a shape that depends on the data: jax's nonzero needs a static size (or a symbolic-size compare)
        assert "nonzero" in message or "not supported between instances of 'int' and 'Node'" in message
