"""The detection trainer: one detector, one schedule, in a worker process; then mAP on the test split.

It uses the classification trainer's machinery (schedules as data, make_optimizer, lr_factor, seeded initial
weights, saved weights). No augmentation: a random crop would cut boxes, and flipping changes what a digit means,
so the schedule must ask for none (crop_padding 0; hflip false, or "auto", which means no flip here since no
detection dataset is declared flip-safe) and no label smoothing.
Evaluation runs the exported function (`model.forward`: decoded boxes and scores), then the measuring side's
numpy post-processing (hwbench.postprocess.nms), so the mAP is that of the pipeline that is timed.
"""

from __future__ import annotations

import math
import time
from typing import Any

# Part of every detection accuracy key: bump when training or evaluation changes meaning.
DET_TRAINER_VERSION = 1


def train_detection_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate one detector; never raises (a failure is a record), saves the trained weights."""
    start = time.perf_counter()
    try:
        return _train(job, start)
    except Exception as exc:
        from hwbench.accuracy.trainer import failure_record

        return failure_record(exc, start)


def check_schedule(sched: dict[str, Any]) -> None:
    """Refuse what this trainer does not do, rather than silently train something else than asked."""
    augment = sched.get("augment", {})
    if int(augment.get("crop_padding", 0)) != 0 or augment.get("hflip", False) not in (False, "auto"):
        raise ValueError("detection training does no augmentation: the schedule needs crop_padding 0, hflip false")
    if float(sched.get("label_smoothing", 0.0)) != 0.0:
        raise ValueError("detection training has no label smoothing: the schedule needs label_smoothing 0")


def subset_indices(n: int, limit: int | None, seed: int) -> list[int] | None:
    """A seeded subset of `limit` image indices (in order), or None when all n are wanted."""
    import numpy as np

    if limit is None or limit >= n:
        return None
    return sorted(np.random.default_rng(seed).choice(n, size=limit, replace=False).tolist())


def _load_split(path: str, limit: int | None, seed: int) -> Any:
    from hwbench.accuracy.detection.data import DetectionSplit

    split = DetectionSplit.load(path)
    idx = subset_indices(len(split), limit, seed)
    return split if idx is None else split.subset(idx)


def _train(job: dict[str, Any], start: float) -> dict[str, Any]:
    import numpy as np
    import torch

    from hwbench.accuracy.batches import DeviceData
    from hwbench.accuracy.detection.loss import BOX_LOSSES
    from hwbench.accuracy.trainer import lr_factor, make_optimizer, save_weights, seeded_model
    from hwbench.postprocess.nms import NmsSettings

    sched, data = job["schedule"], job["data"]
    check_schedule(sched)
    box_kind = job.get("box_loss", "smooth_l1")
    if box_kind not in BOX_LOSSES:  # before any work, not after the first batch
        raise ValueError(f"unknown box loss {box_kind!r}; valid: {', '.join(BOX_LOSSES)}")
    nms_settings = NmsSettings.from_dict(job.get("nms"), "job")
    seed = int(sched["seed"])
    # Initial weights depend on the network and the training seed only (as for classification).
    model, spec, device, channels_last = seeded_model(job)
    from hwbench.accuracy.detection import ltmp_phase, pruning_phase
    from hwbench.accuracy.detection.epoch import epoch_batches, train_epoch

    # A pruning ViT detector: its dense counterpart's start, selectors off through the schedule.
    knobs = pruning_phase.before_schedule(model, spec, seed, device)
    # An LTMP detector: the same dense start, its blocks off through the schedule, then a threshold epoch.
    ltmp = ltmp_phase.before_schedule(model, spec, seed, device)
    # Its dense phase already run: the dense counterpart's weights from the same schedule and seed (identical to
    # what the schedule would give here, tests/accuracy/detection/test_pruning_phase.py); only the fine-tune runs.
    dense_given = (knobs is not None or ltmp) and bool(job.get("dense_weights"))
    if dense_given:
        if knobs is not None and knobs.finetune_epochs == 0:
            raise ValueError(
                "dense_weights: the detector trains its selectors through the schedule (finetune_epochs 0)"
            )
        pruning_phase.load_dense(model, job["dense_weights"], device)
    train_split = _load_split(data["train"], sched.get("train_images"), seed)
    test_split = _load_split(data["test"], sched.get("val_images"), seed + 1)
    resolution = int(spec.arch.resolution)  # type: ignore[attr-defined]
    for name, split in (("train", train_split), ("test", test_split)):
        # Anchors are in input pixels: images at another size would be matched against the wrong anchors.
        if split.size != resolution:
            raise ValueError(f"{name} split is {split.size} px but the detector's input is {resolution} px")
    mean, std = tuple(data["mean"]), tuple(data["std"])
    train = DeviceData(train_split.images, np.arange(len(train_split)), mean, std, device)
    gt_boxes = [torch.as_tensor(b, dtype=torch.float32, device=device) for b in train_split.boxes]
    gt_labels = [torch.as_tensor(lab, dtype=torch.int64, device=device) for lab in train_split.labels]
    batch, epochs = int(sched["batch_size"]), int(sched["epochs"])
    steps_per_epoch = len(train) // batch  # drop the last partial batch: BatchNorm needs > 1 image
    if steps_per_epoch == 0:
        raise ValueError(f"{len(train)} training images is less than one batch of {batch}")
    total = steps_per_epoch * epochs
    warmup = round(sched["lr_schedule"]["warmup_epochs"] * steps_per_epoch)
    optimizer = make_optimizer(model, sched["optimizer"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total, warmup, sched["lr_schedule"])
    )
    generator = torch.Generator().manual_seed(seed)
    eval_batch = int(sched["eval_batch_size"])
    curve, train_time = [], 0.0
    for epoch in range(1, (0 if dense_given else epochs) + 1):
        model.train()
        t0 = time.perf_counter()
        batches = epoch_batches(train, gt_boxes, gt_labels, batch, steps_per_epoch, generator, channels_last)
        sums = train_epoch(model, batches, box_kind, optimizer, scheduler)
        train_time += time.perf_counter() - t0
        point: dict[str, Any] = {"epoch": epoch, **{k: v / steps_per_epoch for k, v in sums.items()}}
        point["lr"] = optimizer.param_groups[0]["lr"]
        if not math.isfinite(point["train_loss"]):
            raise FloatingPointError(f"training diverged: loss {point['train_loss']} in epoch {epoch}")
        if epoch % int(sched["eval_every"]) == 0 and epoch != epochs:
            val = evaluate_detector(model, test_split, nms_settings, eval_batch, mean=mean, std=std, interval=False)
            point["val_map50"] = val["metrics"]["map50"]
        point["seconds"] = time.perf_counter() - start
        curve.append(point)
    token_info: dict[str, Any] = {}
    if ltmp:
        generator = torch.Generator().manual_seed(seed + 1)
        torch.manual_seed(seed + 1)
        phase = epoch_batches(train, gt_boxes, gt_labels, batch, steps_per_epoch, generator, channels_last)
        token_info = ltmp_phase.threshold_phase(model, phase, steps_per_epoch, box_kind)
        token_info.update(_token_facts(model, test_split, mean, std, eval_batch))
    if knobs is not None:
        # Seeded afresh: the fine-tune is the same whether the dense phase ran here or was given (dense_weights).
        generator = torch.Generator().manual_seed(seed + 1)
        torch.manual_seed(seed + 1)

        def again() -> Any:
            return epoch_batches(train, gt_boxes, gt_labels, batch, steps_per_epoch, generator, channels_last)

        token_info = pruning_phase.finetune(model, knobs, again, steps_per_epoch, sched, box_kind)
        # The decision rule is part of the network: applied before evaluation and before the weights are saved.
        calib = torch.arange(min(pruning_phase.CALIBRATION_IMAGES, len(train)), device=device)
        token_info.update(pruning_phase.decision_rule(model, knobs, train.images(calib, channels_last=False)))
        token_info.update(_token_facts(model, test_split, mean, std, eval_batch))
    final = evaluate_detector(model, test_split, nms_settings, eval_batch, mean=mean, std=std)
    weights = save_weights(model, job["weights_path"])
    return {
        "status": "ok",
        **final,
        "train_seconds": time.perf_counter() - start,
        "final_loss": curve[-1]["train_loss"] if curve else token_info["train_loss"][-1],
        "weights": weights,
        "curve": curve,
        "info": {
            "device": str(device),
            "threads": torch.get_num_threads(),
            "channels_last": channels_last,
            "train_images": len(train_split),
            "train_boxes": train_split.num_boxes,
            "head_type": model.head_type,
            "num_anchors": int(model.anchors.shape[0]),
            "box_loss": box_kind,
            "resolution": resolution,
            "steps": total,
            "train_loop_seconds": train_time,
            "images_per_second": steps_per_epoch * batch * epochs / train_time if train_time > 0 else None,
            "trainer_version": DET_TRAINER_VERSION,
            **({"dense_phase": "given: the dense counterpart's trained weights"} if dense_given else {}),
            **({"token_phase": token_info} if token_info else {}),
        },
    }


def _token_facts(model: Any, split: Any, mean: Any, std: Any, batch: int) -> dict[str, Any]:
    """Kept fraction per pruning block on the test split, hard (deploy) decisions."""
    import numpy as np

    from hwbench.accuracy.batches import DeviceData
    from hwbench.accuracy.token_phase import validation_facts

    data = DeviceData(split.images, np.arange(len(split)), tuple(mean), tuple(std), model.anchors.device)
    return validation_facts(model, data, batch, channels_last=False)


def detect(model: Any, split: Any, nms_settings: Any, batch: int, *, mean: Any, std: Any) -> tuple[list, dict]:
    """Detections per image (boxes, scores, labels) from model.forward + host post-processing, and box counts."""
    import numpy as np
    import torch

    from hwbench.accuracy.batches import DeviceData
    from hwbench.postprocess.nms import postprocess

    device = model.anchors.device
    data = DeviceData(split.images, np.arange(len(split)), tuple(mean), tuple(std), device)
    detections, above, kept = [], [], []
    model.eval()
    with torch.inference_mode():
        for lo in range(0, len(split), batch):
            idx = torch.arange(lo, min(lo + batch, len(split)), device=device)
            boxes, scores = model(data.images(idx, channels_last=False))
            for b, s in zip(boxes.float().cpu().numpy(), scores.float().cpu().numpy()):
                found = postprocess(b, s, nms_settings)
                detections.append((found.boxes, found.scores, found.labels))
                above.append(found.above_threshold)
                kept.append(found.kept)
    counts = {
        "above_threshold_mean": float(np.mean(above)) if above else 0.0,
        "kept_mean": float(np.mean(kept)) if kept else 0.0,
    }
    return detections, counts


def evaluate_detector(
    model: Any, split: Any, nms_settings: Any, batch: int, *, mean: Any, std: Any, interval: bool = True
) -> dict[str, Any]:
    """COCO-style mAP of a detector (trained or not) on a split: {"metrics", "eval_images", "boxes"}; with
    interval, the metrics carry map_ci_low/map_ci_high, the 95% bootstrap interval of mAP over the split's images."""
    from hwbench.accuracy.detection.bootstrap import map_interval
    from hwbench.accuracy.detection.cocoeval import evaluate_detections

    was_training = model.training
    detections, counts = detect(model, split, nms_settings, batch, mean=mean, std=std)
    model.train(was_training)
    result = evaluate_detections(split, detections)
    keys = ("map", "map50", "map75", "map_small", "map_medium", "map_large")
    metrics = {k: result[k] for k in keys}
    if interval:
        low, high = map_interval(split, detections)
        # NaN (no object to score) is stored as NULL, like the evaluator's "no such objects" for an area range
        metrics["map_ci_low"], metrics["map_ci_high"] = (None, None) if math.isnan(low) else (low, high)
    return {"metrics": metrics, "eval_images": len(split), "boxes": counts}
