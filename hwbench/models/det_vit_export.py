"""Export a trained ViT detector's backbone alone (image → token map) in the same token form as its whole graph,
so that backbone-only latency can be timed beside the detector's parts (hwbench.pipeline.det_timing)."""

from __future__ import annotations

import time
import traceback
from typing import Any


def run_backbone_export(job: dict[str, Any]) -> dict[str, Any]:
    """An ExportJob's wire dict (trained weights, token form, token inputs) → the backbone's artifact; never raises."""
    start = time.perf_counter()
    try:
        from hwbench.export.job import export_stored, prepared_model
        from hwbench.models import example_input
        from hwbench.models.det_vit import BackboneOnly

        if not job.get("weights"):  # the backbone of a trained detector only (never seeded weights)
            raise KeyError("weights")
        spec, exporter, options, model, prepared = prepared_model(job)
        module, x = BackboneOnly(model).eval(), example_input(spec)
        context = {"precision": job["precision"], "calibration": job.get("calibration")}
        done = export_stored(exporter, module, x, options, context, job["artifact_dir"], inspect=False)
        return {
            "status": "ok",
            "path": str(done.path),
            "artifact_hash": done.digest,
            "token_form": prepared.get("token_form"),
            "parity_ok": done.parity.get("parity_ok"),
            "export_seconds": time.perf_counter() - start,
        }
    except Exception as exc:  # the detector's own timing goes on without it
        return {
            "status": "error",
            "error": f"{type(exc).__name__}: {str(exc)[:1800]}",
            "traceback": traceback.format_exc()[-3000:],
        }
