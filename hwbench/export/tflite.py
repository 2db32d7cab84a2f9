"""TFLite export straight from PyTorch (litert-torch); int8 by a named ai-edge-quantizer recipe on the fp32 file.

fp32: `litert_torch.convert` (no TensorFlow), NCHW input kept. int8: the fp32 .tflite of the same network
(reused from the store when a sweep has it, else converted here) quantized by a recipe from
hwbench.export.int8_recipes, calibrated on the sweep's calibration source. Every int8 export records how
far its outputs are from PyTorch's (top-1 agreement, cosine; per-output cosine and mean abs error for a model
with several outputs, such as a detector's boxes and scores) on held-out inputs of that source.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from hwbench.config import Strict
from hwbench.errors import UnknownNameError
from hwbench.export import EXPORTERS, ExporterDef, ProfileError
from hwbench.export.calibration import SYNTHETIC, calibration_inputs, describe, recorded
from hwbench.export.int8_recipes import DEFAULT_RECIPE, get_recipe, quantize
from hwbench.export.onnx import compare_all, model_outputs
from hwbench.quiet import captured_output

FP32_PROFILE = {"format": "tflite", "precision": "fp32"}
INSTALL = "pip install 'hwbench[tflite]'"


class TfliteOptions(Strict):
    """TFLite export knobs; all apply to precision int8 only."""

    recipe: str | None = None  # default: full_int8
    calibration_samples: int = Field(32, ge=1, le=4096)
    fidelity_samples: int = Field(32, ge=1, le=4096)
    # Compile the full-integer artifact for the Coral Edge TPU (hwbench.export.edgetpu).
    edgetpu_compile: bool = False

    @field_validator("recipe")
    @classmethod
    def _known_recipe(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                get_recipe(value)
            except UnknownNameError as exc:
                raise ValueError(str(exc)) from None
        return value


def profile_options(precision: str, options: TfliteOptions) -> dict[str, Any]:
    """Canonical options: none for fp32; recipe, sample counts for int8 (calibration only where read)."""
    given = sorted(options.model_fields_set)
    if precision == "fp32":
        if given:
            raise ProfileError(given[0], "applies to precision int8 only")
        return {}
    recipe = get_recipe(options.recipe or DEFAULT_RECIPE)
    canonical: dict[str, Any] = {"recipe": recipe.name, "fidelity_samples": options.fidelity_samples}
    if recipe.calibrated:
        canonical["calibration_samples"] = options.calibration_samples
    elif "calibration_samples" in given:
        raise ProfileError("calibration_samples", f"int8 recipe {recipe.name!r} is not calibrated")
    if options.edgetpu_compile:
        if recipe.name != "full_int8":
            raise ProfileError("edgetpu_compile", f"the Edge TPU runs full_int8 models only, not {recipe.name!r}")
        canonical["edgetpu_compile"] = True  # only when set, so existing export keys stay as they were
    return canonical


def convert_fp32(model: Any, x: Any, path: str) -> float:
    """litert-torch conversion of the eval-mode model to `path`; returns seconds."""
    from hwbench.runners import import_runtime

    litert_torch = import_runtime("litert_torch", INSTALL)
    litert_torch.config.show_progress = False  # else progress lines on stdout
    start = time.perf_counter()
    litert_torch.convert(model, (x,)).export(path)
    return time.perf_counter() - start


def export_tflite(model: Any, x: Any, path: str, options: TfliteOptions, context: dict[str, Any]) -> dict[str, Any]:
    """Write the fp32 or int8 .tflite of `model` to `path`."""
    with captured_output():
        if context["precision"] == "fp32":
            seconds = convert_fp32(model, x, path)
            return {"export_seconds": seconds, "convert_seconds": seconds, "converter": "litert-torch"}
        return _export_int8(model, x, path, options, context)


def _export_int8(model: Any, x: Any, path: str, options: TfliteOptions, context: dict[str, Any]) -> dict[str, Any]:
    recipe = get_recipe(options.recipe or DEFAULT_RECIPE)
    facts: dict[str, Any] = {"converter": "litert-torch + ai-edge-quantizer", "recipe": recipe.name}
    with tempfile.TemporaryDirectory() as tmp:
        base = context.get("base_path")
        if base:
            facts.update(fp32_reused=True, base_export_key=context.get("base_export_key"))
            facts["convert_seconds"] = context.get("base_seconds")
        else:
            base = os.path.join(tmp, "fp32.tflite")
            facts.update(fp32_reused=False, convert_seconds=convert_fp32(model, x, base))
        samples = None
        if recipe.calibrated:
            calibration = context.get("calibration") or SYNTHETIC
            samples = calibration_inputs(calibration, tuple(x.shape), options.calibration_samples, "calibration")
            facts["calibration"] = {**recorded(calibration), "samples": len(samples), "label": describe(calibration)}
        facts.update(quantize(recipe, base, path, samples))
        if options.edgetpu_compile:
            from hwbench.export.edgetpu import compile_edgetpu

            facts["edgetpu"] = compile_edgetpu(path)
    own_convert = 0.0 if facts["fp32_reused"] else facts["convert_seconds"]
    compiled = facts.get("edgetpu", {}).get("compile_seconds", 0.0)
    facts["export_seconds"] = facts["quantize_seconds"] + own_convert + compiled
    return facts


def _session(path: str) -> Any:
    from hwbench.runners.tflite import TfliteOptions as RunOptions
    from hwbench.runners.tflite import TfliteSession

    # Opening with the interpreter first also verifies the flatbuffer (a truncated file raises here).
    return TfliteSession(path, 1, RunOptions(interpreter="ai_edge_litert"))


def inspect_tflite(path: str) -> dict[str, Any]:
    """Operators, tensor types, fully-integer check, inputs and XNNPACK delegation (LiteRT, 1 thread)."""
    from hwbench.export.tflite_inspect import structure
    from hwbench.runners.delegates import is_compiled

    if is_compiled(path):  # its Edge TPU operator runs only with the Edge TPU delegate
        return {**structure(path), "delegation": None, "inputs": None, "delegation_runtime": None}
    with captured_output():
        session = _session(path)
        delegation = session.delegation()
        inputs = [asdict(s) for s in session.inputs()]
        version = session.info()["interpreter_version"]
    return {**structure(path), "delegation": delegation, "inputs": inputs, "delegation_runtime": version}


def parity_tflite(path: str, model: Any, x: Any, options: TfliteOptions, context: dict[str, Any]) -> dict[str, Any]:
    """fp32: error against PyTorch on the export input. int8: fidelity on held-out calibration-source inputs."""
    import torch

    from hwbench.runners.delegates import is_compiled

    if is_compiled(path):
        return {"parity_ok": None, "note": "compiled for the Edge TPU: runs only on one (measure with its delegate)"}
    with captured_output():
        session = _session(path)
        if context["precision"] == "fp32":
            return compare_all(model_outputs(model, x), session.run([x.numpy()]))
        calibration = context.get("calibration") or SYNTHETIC
        batch = calibration_inputs(calibration, tuple(x.shape), options.fidelity_samples, "validation")
        runs = [session.run([sample[None]]) for sample in batch]
    got = [np.concatenate(per_output) for per_output in zip(*runs, strict=True)]
    refs = model_outputs(model, torch.from_numpy(batch))
    facts = fidelity(refs[0], got[0]) if len(refs) == 1 else fidelity_outputs(refs, got)
    return {**facts, "fidelity_samples": len(batch), "fidelity_source": describe(calibration)}


def fidelity(ref: np.ndarray, got: np.ndarray) -> dict[str, Any]:
    """Top-1 agreement and mean cosine similarity of two [N, classes] outputs; parity_ok is not applicable."""
    ref = ref.reshape(len(ref), -1).astype(np.float64)
    got = got.reshape(len(got), -1).astype(np.float64)
    err = float(np.max(np.abs(ref - got)))
    return {
        "parity_ok": None,  # quantization error is what is measured here, not a defect
        "max_abs_err": err,
        "max_rel_err": err / max(float(np.max(np.abs(ref))), 1e-12),
        "int8_top1_agreement": float(np.mean(ref.argmax(1) == got.argmax(1))),
        "int8_cosine": _mean_cosine(ref, got),
    }


def fidelity_outputs(refs: list[np.ndarray], gots: list[np.ndarray]) -> dict[str, Any]:
    """Per-output mean cosine and mean abs error of a several-output model (a detector: boxes in pixels, scores).

    No top-1 agreement: the outputs are not class logits. `int8_cosine` on top is the worst output's.
    """
    each = []
    for i, (ref, got) in enumerate(zip(refs, gots, strict=True)):
        if ref.shape != got.shape:
            raise ValueError(f"int8 output {i} has shape {got.shape}, PyTorch's {ref.shape}")
        ref64 = ref.reshape(len(ref), -1).astype(np.float64)
        diff = np.abs(ref64 - got.reshape(len(got), -1))
        err = float(np.max(diff)) if diff.size else 0.0
        each.append(
            {
                "index": i,
                "shape": list(ref.shape[1:]),
                "int8_cosine": _mean_cosine(ref64, got.reshape(len(got), -1).astype(np.float64)),
                "int8_mean_abs_err": float(np.mean(diff)) if diff.size else 0.0,
                "max_abs_err": err,
                "max_rel_err": err / max(float(np.max(np.abs(ref64))) if ref64.size else 0.0, 1e-12),
            }
        )
    return {
        "parity_ok": None,
        "max_abs_err": max(e["max_abs_err"] for e in each),
        "max_rel_err": max(e["max_rel_err"] for e in each),
        "int8_cosine": min(e["int8_cosine"] for e in each),
        "outputs": each,
    }


def _mean_cosine(ref: np.ndarray, got: np.ndarray) -> float:
    """Mean over samples of the cosine similarity of two [N, D] float64 arrays."""
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
    return float(np.mean(np.sum(ref * got, axis=1) / np.maximum(norms, 1e-30)))


EXPORTERS.register("tflite")(
    ExporterDef(
        format="tflite",
        extension=".tflite",
        options=TfliteOptions,
        export=export_tflite,
        inspect=inspect_tflite,
        parity=parity_tflite,
        distributions=("torch", "litert-torch", "litert-converter", "ai-edge-litert", "ai-edge-quantizer"),
        precisions=("fp32", "int8"),
        profile_options=profile_options,
        calibrated=lambda precision, options: precision == "int8",
        base_profile=lambda precision, options: dict(FP32_PROFILE) if precision == "int8" else None,
    )
)
