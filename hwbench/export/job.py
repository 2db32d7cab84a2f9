"""The export job run in a worker process: build → export → check → parity → store by content hash."""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, NamedTuple

from hwbench.export import get_exporter
from hwbench.export.artifacts import ArtifactStore


class Stored(NamedTuple):
    """One exported artifact, stored: the exporter's facts, its inspection, the parity check, hash and path."""

    facts: dict[str, Any]
    inspected: dict[str, Any]
    parity: dict[str, Any]
    digest: str
    path: Path


def prepared_model(job: dict[str, Any]) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
    """(spec, exporter, options, model, prepared) of an export job's wire dict: the model built, with the job's
    trained weights when given, readied for its token form."""
    import numpy as np
    import torch

    from hwbench.models import build_model, prepare_for_export
    from hwbench.space.archspec import ArchSpec

    torch.set_num_threads(int(job.get("threads", 1)))
    spec = ArchSpec.from_json(job["spec_json"])
    exporter = get_exporter(job["format"])
    options = exporter.options.model_validate(job["options"])
    model = build_model(spec)
    if job.get("weights"):  # trained weights (accuracy of the artifact); latency exports use seeded ones
        model.load_state_dict(torch.load(job["weights"], map_location="cpu", weights_only=True))
    # ViT token forms: the profile chooses how a token-reduced model is computed (docs/vit.md).
    inputs = job.get("token_inputs")  # images a data-dependent ViT is prepared and counted on
    extra = {"images": torch.from_numpy(np.load(inputs["path"])), "source": inputs["source"]} if inputs else {}
    prepared = prepare_for_export(
        model, spec, job["format"], job.get("token_form", "auto"), trained=bool(job.get("weights")), **extra
    )
    return spec, exporter, options, model, prepared


def export_stored(
    exporter: Any,
    module: Any,
    x: Any,
    options: Any,
    context: dict[str, Any],
    artifact_dir: str,
    inspect: bool = True,
) -> Stored:
    """Export `module` to a temporary file, inspect it (when asked), check parity, store it by content hash."""
    store = ArtifactStore(artifact_dir)
    store.root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=exporter.extension, dir=store.root)
    os.close(fd)
    try:
        facts = exporter.export(module, x, tmp, options, context)
        inspected = exporter.inspect(tmp) if inspect else {}
        parity = exporter.parity(tmp, module, x, options, context)
        digest, path = store.put(tmp, exporter.extension)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return Stored(facts, inspected, parity, digest, path)


def run_export(job: dict[str, Any]) -> dict[str, Any]:
    """Export one architecture under one profile; never raises (errors are records)."""
    start = time.perf_counter()
    prepared: dict[str, Any] = {}
    if job.get("base_error"):
        # The artifact this export starts from failed; nothing to convert (the reason is in that record).
        return {"status": "error", "error": job["base_error"][:2000], "export_seconds": 0.0, "info_json": {}}
    try:
        from hwbench.models import example_input

        spec, exporter, options, model, prepared = prepared_model(job)
        inputs = job.get("token_inputs")
        if inputs and prepared.get("token_form") == "dynamic":
            # Its latency follows the image: the measurement times each of these images (hwbench.measure.per_input).
            prepared["inputs"] = {k: inputs[k] for k in ("hash", "extension", "source")}
        context = {"precision": job["precision"], "calibration": job.get("calibration"), **job.get("context", {})}
        done = export_stored(exporter, model, example_input(spec), options, context, job["artifact_dir"], inspect=True)
        facts, inspected, parity, digest = done.facts, done.inspected, done.parity, done.digest
        ops = inspected.pop("ops", {})
        return {
            "status": "ok",
            "artifact_hash": digest,
            "extension": exporter.extension,
            "export_seconds": facts.pop("export_seconds", time.perf_counter() - start),
            "parity_ok": parity.get("parity_ok"),
            "max_abs_err": parity.get("max_abs_err"),
            "max_rel_err": parity.get("max_rel_err"),
            "ops_json": ops,
            "info_json": {**prepared, **facts, **inspected, "parity": parity},
        }
    except Exception as exc:  # one network failing to export is a result; the sweep goes on
        hint = f" [token form {prepared['token_form']} uses {prepared['uses']}]" if "uses" in prepared else ""
        return {
            "status": "error",
            "error": f"{type(exc).__name__}: {str(exc)[:1800]}{hint}".strip(),
            "export_seconds": time.perf_counter() - start,
            "info_json": {**prepared, "traceback": traceback.format_exc()[-4000:]},
        }
