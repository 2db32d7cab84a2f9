"""Check a detection timing job from the network (POST /v1/measure-detection) before anything runs."""

from __future__ import annotations

from typing import Any

from hwbench.agent.validate import (
    MAX_SECONDS,
    JobError,
    artifact_and_runner,
    check_fields,
    number,
    runner_options,
    seed_and_queue_timeout,
    thread_count,
)
from hwbench.agent.wire import DATA_EXTENSIONS, EXTENSIONS, parse_artifact_name, parse_model_name

FIELDS = {
    "artifact",
    "images",
    "runner",
    "threads",
    "options",
    "nms",
    "count",
    "max_seconds",
    "seed",
    "mean",
    "std",
    "detect",
    "queue_timeout_s",
    "backbone",  # optional: a ViT detector's backbone-only artifact, timed after the parts (newer clients)
}
MAX_COUNT = 10_000  # images timed (the pipeline times 24)
# Far above any sensible setting, low enough that no count turns into an absurd allocation or slice.
MAX_NMS_BOXES = 1_000_000
CHANNELS = (1, 3)
MEAN_RANGE = (0.0, 1.0)  # pixel statistics of images scaled to [0, 1]
STD_RANGE = (1e-6, 1.0)  # a zero std would divide by zero


def detection_job(data: dict[str, Any], max_threads: int) -> tuple[dict[str, Any], str, str, float]:
    """(job for measure_with_backbone without its paths, artifact name, images name, queue timeout).

    A `backbone` artifact, when named, stays in the job as its name: the server pins it and puts its path there."""
    check_fields(data, FIELDS)
    name, runner = artifact_and_runner(data)
    images = data.get("images")
    if not isinstance(images, str) or parse_artifact_name(images, DATA_EXTENSIONS) is None:
        raise JobError("images: expected <sha256>.npy")
    threads = thread_count(data, max_threads)
    options = runner_options(data, runner)
    seed, queue_timeout = seed_and_queue_timeout(data)
    detect = data.get("detect", True)
    if not isinstance(detect, bool):
        raise JobError("detect: expected true or false")
    job = {
        "kind": "detection",
        "runner": runner.name,
        "runner_options": options,
        "threads": threads,
        "nms": nms_settings(data.get("nms")),
        "count": number(data, "count", int, 1, MAX_COUNT),
        "max_seconds": number(data, "max_seconds", float, 0, MAX_SECONDS),
        "seed": seed,
        "detect": detect,
        **normalisation(data),
    }
    if "backbone" in data:
        job["backbone"] = backbone_name(data["backbone"], runner)
    return job, name, images, queue_timeout


def backbone_name(name: Any, runner: Any) -> str:
    """The backbone artifact's name: a measurable artifact (never an images file) of the runner's format."""
    parsed = parse_model_name(name) if isinstance(name, str) else None
    if parsed is None:
        raise JobError("backbone: expected <sha256><ext> with ext one of " + ", ".join(EXTENSIONS))
    if runner.format != EXTENSIONS[parsed[1]]:
        raise JobError(f"backbone: runner {runner.name!r} runs {runner.format} artifacts, not {parsed[1]}")
    return name


def nms_settings(nms: Any) -> dict[str, Any]:
    """Post-processing settings as NmsSettings validates them, with counts bounded; every refusal is a JobError."""
    from hwbench.errors import ConfigError
    from hwbench.postprocess.nms import NmsSettings

    if not isinstance(nms, dict):
        raise JobError("nms: expected an object")
    try:
        settings = NmsSettings.from_dict(nms, "job")
    except ConfigError as exc:
        raise JobError(str(exc)[:300]) from None
    for key in ("pre_nms_top_k", "max_detections"):
        if getattr(settings, key) > MAX_NMS_BOXES:
            raise JobError(f"nms.{key}: at most {MAX_NMS_BOXES:,}")
    return settings.key()


def normalisation(data: dict[str, Any]) -> dict[str, list[float]]:
    """`mean` and `std`: one number per channel (1 or 3), in the ranges of pixel statistics."""
    out = {}
    for key, bounds in (("mean", MEAN_RANGE), ("std", STD_RANGE)):
        values = data.get(key)
        if not isinstance(values, list) or len(values) not in CHANNELS:
            raise JobError(f"{key}: expected a list of 1 or 3 numbers")
        out[key] = [number({key: v}, key, float, *bounds) for v in values]
    if len(out["mean"]) != len(out["std"]):
        raise JobError(f"mean and std differ in length ({len(out['mean'])} vs {len(out['std'])})")
    return out
