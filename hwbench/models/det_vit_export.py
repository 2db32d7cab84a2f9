"""Export a trained ViT detector's backbone alone (image → token map) in the same token form as its whole graph,
so that backbone-only latency can be timed beside the detector's parts (hwbench.pipeline.det_timing)."""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from typing import Any


def run_backbone_export(job: dict[str, Any]) -> dict[str, Any]:
    """An ExportJob's wire dict (trained weights, token form, token inputs) → the backbone's artifact; never raises."""
    start = time.perf_counter()
    try:
        import numpy as np
        import torch

        from hwbench.export import get_exporter
        from hwbench.export.artifacts import ArtifactStore
        from hwbench.models import build_model, example_input, prepare_for_export
        from hwbench.models.det_vit import BackboneOnly
        from hwbench.space.archspec import ArchSpec

        torch.set_num_threads(int(job.get("threads", 1)))
        spec = ArchSpec.from_json(job["spec_json"])
        exporter = get_exporter(job["format"])
        options = exporter.options.model_validate(job["options"])
        model = build_model(spec)
        model.load_state_dict(torch.load(job["weights"], map_location="cpu", weights_only=True))
        inputs = job.get("token_inputs")
        extra = {"images": torch.from_numpy(np.load(inputs["path"])), "source": inputs["source"]} if inputs else {}
        prepared = prepare_for_export(model, spec, job["format"], job.get("token_form", "auto"), trained=True, **extra)
        module, x = BackboneOnly(model).eval(), example_input(spec)
        store = ArtifactStore(job["artifact_dir"])
        store.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=exporter.extension, dir=store.root)
        os.close(fd)
        try:
            context = {"precision": job["precision"], "calibration": job.get("calibration")}
            exporter.export(module, x, tmp, options, context)
            parity = exporter.parity(tmp, module, x, options, context)
            digest, path = store.put(tmp, exporter.extension)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return {
            "status": "ok",
            "path": str(path),
            "artifact_hash": digest,
            "token_form": prepared.get("token_form"),
            "parity_ok": parity.get("parity_ok"),
            "export_seconds": time.perf_counter() - start,
        }
    except Exception as exc:  # the detector's own timing goes on without it
        return {
            "status": "error",
            "error": f"{type(exc).__name__}: {str(exc)[:1800]}",
            "traceback": traceback.format_exc()[-3000:],
        }
