"""The trainer: one network, one schedule, in a worker process. A plain PyTorch loop, seeded end to end."""

from __future__ import annotations

import math
import os
import time
import traceback
from typing import Any

# Part of every accuracy key: bump when training changes meaning.
# 2: LTMP networks get their threshold epoch, MLP pruners their keep-ratio loss (hwbench.accuracy.token_phase).
TRAINER_VERSION = 2


def lr_factor(step: int, total: int, warmup: int, schedule: dict[str, Any]) -> float:
    """Multiplier of the base lr at `step`: linear warm-up, then cosine (or constant) to `final`."""
    if warmup > 0 and step < warmup:
        start = schedule["warmup_start"]
        return start + (1.0 - start) * step / warmup
    if schedule["name"] == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    final = schedule["final"]
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(model: Any, spec: dict[str, Any]) -> Any:
    """SGD or AdamW; norms and biases (1-d parameters) get no weight decay unless asked."""
    import torch

    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim > 1 or spec["decay_norm_and_bias"] else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": spec["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
    if spec["name"] == "adamw":
        return torch.optim.AdamW(groups, lr=spec["lr"], betas=tuple(spec["betas"]))
    return torch.optim.SGD(
        groups, lr=spec["lr"], momentum=spec["momentum"], nesterov=spec["nesterov"] and spec["momentum"] > 0
    )


def pick_device(requested: str) -> Any:
    """cuda when present (auto) or asked for; cpu otherwise."""
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--train-device cuda: no CUDA device is available")
    if requested in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def train_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate one network; never raises (a failure is a record), saves the trained weights."""
    start = time.perf_counter()
    try:
        return _train(job, start)
    except Exception as exc:
        return failure_record(exc, start)


def failure_record(exc: Exception, start: float) -> dict[str, Any]:
    """The record of a training that raised (called in its except block): error, time spent, traceback."""
    out_of_memory = "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError"
    return {
        "status": "error",
        "error": ("out of memory: " if out_of_memory else "") + f"{type(exc).__name__}: {exc}".strip()[:2000],
        "train_seconds": time.perf_counter() - start,
        "info": {"traceback": traceback.format_exc()[-4000:]},
    }


def seeded_model(job: dict[str, Any]) -> tuple[Any, Any, Any, bool]:
    """(model in train mode, its ArchSpec, device, channels_last) for a training job: threads and device set, torch
    seeded with the schedule's seed, initial weights from the network and that seed only (classifiers, detectors)."""
    import torch

    from hwbench.models import build_model
    from hwbench.space.archspec import ArchSpec
    from hwbench.store.keys import digest

    torch.set_num_threads(int(job["threads"]))
    device = pick_device(job.get("device", "auto"))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    channels_last = job.get("channels_last", True)
    seed = int(job["schedule"]["seed"])
    torch.manual_seed(seed)
    spec = ArchSpec.from_json(job["spec_json"])
    model = build_model(spec, seed=int(digest({"arch": spec.arch_id, "seed": seed}, 8), 16), device=device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, spec, device, channels_last


def _train(job: dict[str, Any], start: float) -> dict[str, Any]:
    import numpy as np
    import torch

    from hwbench.accuracy.batches import DeviceData
    from hwbench.accuracy.evaluate import evaluate_model
    from hwbench.accuracy.token_phase import (
        before_schedule,
        knob_thresholds,
        schedule_loss,
        threshold_phase,
        token_method,
        validation_facts,
    )

    sched, data = job["schedule"], job["data"]
    seed = int(sched["seed"])
    model, _, device, channels_last = seeded_model(job)
    before_schedule(model)  # token-reduced ViTs: what the schedule trains (docs/vit.md)
    extra: dict[str, Any] = {}
    eval_batch = int(sched["eval_batch_size"])
    train = DeviceData(
        np.load(data["files"]["train_x"]), np.load(data["files"]["train_y"]), data["mean"], data["std"], device
    )
    val = DeviceData(
        np.load(data["files"]["val_x"]), np.load(data["files"]["val_y"]), data["mean"], data["std"], device
    )
    if token_method(model) == "mlp_prune":  # the selectors as initialised, before the schedule trains them
        extra["keep_ratio_at_start"] = validation_facts(model, val, eval_batch, channels_last)["keep_ratio"]
    batch, epochs = int(sched["batch_size"]), int(sched["epochs"])
    steps_per_epoch = len(train) // batch  # drop the last partial batch: BatchNorm needs > 1 image
    total = steps_per_epoch * epochs
    warmup = round(sched["lr_schedule"]["warmup_epochs"] * steps_per_epoch)
    optimizer = make_optimizer(model, sched["optimizer"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total, warmup, sched["lr_schedule"])
    )
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=float(sched["label_smoothing"]))
    generator = torch.Generator().manual_seed(seed)
    padding, hflip = int(sched["augment"]["crop_padding"]), bool(data["hflip"])
    curve, train_time, images = [], 0.0, 0
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        for x, y in epoch_batches(train, batch, steps_per_epoch, generator, channels_last, padding, hflip):
            loss = schedule_loss(model, criterion(model(x), y))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach()
        epoch_loss = float(loss_sum) / max(1, steps_per_epoch)
        train_time += time.perf_counter() - t0
        images += steps_per_epoch * batch
        if not math.isfinite(epoch_loss):
            raise FloatingPointError(f"training diverged: loss {epoch_loss} in epoch {epoch}")
        point = {"epoch": epoch, "train_loss": epoch_loss, "lr": optimizer.param_groups[0]["lr"]}
        if epoch % int(sched["eval_every"]) == 0 or epoch == epochs:
            metrics = evaluate_model(model, val, eval_batch, channels_last)
            point.update(val_top1=metrics["top1"], val_loss=metrics["loss"])
        point["seconds"] = time.perf_counter() - start
        curve.append(point)
    if token_method(model) == "ltmp":  # one more epoch, thresholds only, on top of the trained backbone
        extra["backbone"] = evaluate_model(model, val, eval_batch, channels_last)
        knob_thresholds(model)
        extra["flops_ratio_at_start"] = validation_facts(model, val, eval_batch, channels_last)["flops_ratio"]
        extra["threshold_phase"] = threshold_phase(
            model,
            epoch_batches(train, batch, steps_per_epoch, generator, channels_last, padding, hflip),
            steps_per_epoch,
        )
    # Eval mode takes hard decisions: the training (mask) form then computes the deploy function.
    final = evaluate_model(model, val, eval_batch, channels_last)
    if token_method(model) is not None:
        extra.update(validation_facts(model, val, eval_batch, channels_last))
    weights = save_weights(model, job["weights_path"])
    return {
        "status": "ok",
        **final,
        "train_seconds": time.perf_counter() - start,
        "images_per_second": images / train_time if train_time > 0 else None,
        "final_train_loss": curve[-1]["train_loss"],
        "curve": curve,
        "info": {
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "threads": torch.get_num_threads(),
            "channels_last": channels_last,
            "train_images": len(train),
            "val_images": len(val),
            "resolution": data.get("resolution"),  # what the accuracy was evaluated at (the report's header)
            "steps": total,
            "train_loop_seconds": train_time,
            "weights": weights,
            **({"token_training": extra} if extra else {}),
        },
    }


def epoch_batches(
    train: Any, batch: int, steps: int, generator: Any, channels_last: bool, padding: int, hflip: bool
) -> Any:
    """One epoch of augmented (images, labels) batches in a seeded order; the last partial batch is dropped."""
    import torch

    from hwbench.accuracy.batches import random_crop, random_flip

    order = torch.randperm(len(train), generator=generator).to(train.device)
    for step in range(steps):
        idx = order[step * batch : (step + 1) * batch]
        x = random_crop(train.images(idx, channels_last), padding, generator)
        yield (random_flip(x, generator) if hflip else x), train.y[idx]


def save_weights(model: Any, path: str) -> dict[str, Any]:
    """Write the trained state_dict atomically (CPU tensors); return its path and sha256."""
    import torch

    from hwbench.export.artifacts import file_hash

    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    torch.save(state, tmp)
    os.replace(tmp, path)
    return {"path": path, "sha256": file_hash(path)}
