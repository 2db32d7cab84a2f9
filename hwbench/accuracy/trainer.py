"""The trainer: one network, one schedule, in a worker process. A plain PyTorch loop, seeded end to end."""

from __future__ import annotations

import math
import os
import time
import traceback
from typing import Any

TRAINER_VERSION = 1  # part of every accuracy key: bump when training changes meaning


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
        out_of_memory = "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError"
        return {
            "status": "error",
            "error": ("out of memory: " if out_of_memory else "") + f"{type(exc).__name__}: {exc}".strip()[:2000],
            "train_seconds": time.perf_counter() - start,
            "info": {"traceback": traceback.format_exc()[-4000:]},
        }


def _train(job: dict[str, Any], start: float) -> dict[str, Any]:
    import numpy as np
    import torch

    from hwbench.accuracy.batches import DeviceData, random_crop, random_flip
    from hwbench.accuracy.evaluate import evaluate_model
    from hwbench.models import build_model
    from hwbench.space.archspec import ArchSpec
    from hwbench.store.keys import digest

    sched, data = job["schedule"], job["data"]
    torch.set_num_threads(int(job["threads"]))
    device = pick_device(job.get("device", "auto"))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    channels_last = job.get("channels_last", True)
    seed = int(sched["seed"])
    torch.manual_seed(seed)
    spec = ArchSpec.from_json(job["spec_json"])
    # Initial weights depend on the network and the training seed only.
    model = build_model(spec, seed=int(digest({"arch": spec.arch_id, "seed": seed}, 8), 16), device=device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    train = DeviceData(
        np.load(data["files"]["train_x"]), np.load(data["files"]["train_y"]), data["mean"], data["std"], device
    )
    val = DeviceData(
        np.load(data["files"]["val_x"]), np.load(data["files"]["val_y"]), data["mean"], data["std"], device
    )
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
        order = torch.randperm(len(train), generator=generator).to(device)
        loss_sum = torch.zeros((), device=device)
        for step in range(steps_per_epoch):
            idx = order[step * batch : (step + 1) * batch]
            x = train.images(idx, channels_last)
            x = random_crop(x, padding, generator)
            if hflip:
                x = random_flip(x, generator)
            loss = criterion(model(x), train.y[idx])
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
            metrics = evaluate_model(model, val, int(sched["eval_batch_size"]), channels_last)
            point.update(val_top1=metrics["top1"], val_loss=metrics["loss"])
        point["seconds"] = time.perf_counter() - start
        curve.append(point)
    final = evaluate_model(model, val, int(sched["eval_batch_size"]), channels_last)
    weights = _save(model, job["weights_path"])
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
            "steps": total,
            "train_loop_seconds": train_time,
            "weights": weights,
        },
    }


def _save(model: Any, path: str) -> dict[str, Any]:
    """Write the trained state_dict atomically (CPU tensors); return its path and sha256."""
    import torch

    from hwbench.export.artifacts import file_hash

    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    torch.save(state, tmp)
    os.replace(tmp, path)
    return {"path": path, "sha256": file_hash(path)}
