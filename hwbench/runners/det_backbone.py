"""A detector's timing in parts plus, for ViT detectors, its backbone-only graph timed image by image on the same
images (batch 1, round-robin: hwbench.measure.per_input). Standard library and numpy only, as every runner job."""

from __future__ import annotations

from typing import Any

from hwbench.measure.det_images import normalise, read_images
from hwbench.measure.per_input import time_per_input
from hwbench.runners.detection import measure_detection_job

# Rounds over the images for the backbone (as the per-image timing of the classification ViTs).
BACKBONE_ROUNDS = 7


def measure_with_backbone(job: dict[str, Any]) -> dict[str, Any]:
    """measure_detection_job, then the backbone artifact named in job["backbone"] (when there is one)."""
    result = note_export_failure(measure_detection_job(job), job)
    if result.get("status") != "ok" or not job.get("backbone"):
        return result
    try:
        from hwbench.runners import get_runner

        runner = get_runner(job["runner"])
        session = runner.open(job["backbone"], int(job["threads"]), runner.options(**job.get("runner_options", {})))
        try:
            images = normalise(read_images(job["images"])[: int(job["count"])], job["mean"], job["std"])
            shape = tuple(session.inputs()[0].shape)
            timed = time_per_input(
                session.prepare, shape, images, rounds=BACKBONE_ROUNDS, max_seconds=float(job.get("max_seconds", 20.0))
            )
        finally:
            session.close()
        result["backbone"] = timed
    except Exception as exc:  # the parts stand; the backbone's failure is said in the record
        result["backbone"] = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}
    return result


def note_export_failure(result: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """The timed parts, with the backbone's failed export said in the record (job["backbone_error"], if any)."""
    if result.get("status") == "ok" and job.get("backbone_error"):
        result["backbone"] = {"error": f"backbone export: {job['backbone_error']}"}
    return result
