"""The result columns each record table takes from a worker's result (the store owns its column lists)."""

from __future__ import annotations

# exports: what hwbench.export.job.run_export returns besides its status.
EXPORT_COLUMNS = (
    "status",
    "error",
    "artifact_hash",
    "extension",
    "export_seconds",
    "parity_ok",
    "max_abs_err",
    "max_rel_err",
    "ops_json",
    "info_json",
)

# measurements: what a runner's timed job returns (hwbench.runners.local, the board agent), pooled over rounds.
MEASUREMENT_COLUMNS = (
    "status",
    "error",
    "median_ms",
    "mean_ms",
    "std_ms",
    "cov",
    "min_ms",
    "p10_ms",
    "p90_ms",
    "p99_ms",
    "ci_low_ms",
    "ci_high_ms",
    "rel_ci",
    "n_runs",
    "converged",
    "stop_reason",
    "warmup_runs",
    "device_seconds",
    "samples",
    "started_at",
    "finished_at",
    "rounds",
    "n_eff",
    "disturbed",
    "disturbed_reason",
    "foreign_share",
    "canary_drift",
    "canary_kind",
    "canary_ms",
    "canary_n",
    "canary_rel_sd",
)

# accuracies of trained networks: what hwbench.accuracy.trainer.train_job returns besides its status.
TRAINING_COLUMNS = ("top1", "top5", "loss", "train_seconds", "images_per_second", "final_train_loss")

# accuracies of trained detectors: the COCO metrics hwbench.accuracy.detection.trainer returns under "metrics".
DETECTION_METRICS = ("map", "map50", "map75", "map_small", "map_medium", "map_large", "map_ci_low", "map_ci_high")

# detection_timings: the summary columns of hwbench.measure.detection.time_detection's record.
DETECTION_TIMING_COLUMNS = {
    "graph_ms": "graph_median_ms",
    "nms_ms": "nms_median_ms",
    "e2e_ms": "e2e_median_ms",
    "graph_p10_ms": "graph_p10_ms",
    "graph_p90_ms": "graph_p90_ms",
    "nms_p10_ms": "nms_p10_ms",
    "nms_p90_ms": "nms_p90_ms",
    "e2e_p10_ms": "e2e_p10_ms",
    "e2e_p90_ms": "e2e_p90_ms",
    "nms_ms_per_1000": "nms_ms_per_1000_candidates",
    "rounds": "rounds",
    "images": "count",
    "artifact_map": "artifact_map",
    "artifact_map50": "artifact_map50",
    "artifact_map_ci_low": "artifact_map_ci_low",
    "artifact_map_ci_high": "artifact_map_ci_high",
    "artifact_images": "artifact_images",
}
