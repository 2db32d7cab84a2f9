"""The trainer's speed: images/s against a plain PyTorch loop, and minutes per network for the default schedule.

Part 1 (1 thread, in this process): for one sampled network per CNN block space, the hwbench trainer
(uint8 data on the device, normalisation, random crop, label smoothing, warm-up + cosine per step) against a
plain loop on the same model, batch, optimizer and loss that slices a pre-normalised float tensor and does
nothing else. Both run the same number of steps; rounds alternate (plain, hwbench, hwbench without
channels_last), median of the rounds. Goal: hwbench / plain >= 0.95.

Part 2: the default schedule (`short`) on the built-in dataset, the way a sweep trains: worker processes
from hwbench.workers, one per core with 1 thread each, against one worker with every thread. Reports wall
minutes per network (total wall / networks) and each network's own training time.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from common import ROOT, save, table

SPACES = ("mbconv", "mbconv_se", "fused_mbconv", "resnet_bottleneck", "convnext")
EPOCHS = 2
ROUNDS = 3


def specs() -> list[tuple[str, object]]:
    """One network per CNN block space (seed 0), as the demo samples them."""
    from hwbench.space.design_space import load_space

    return [(name, load_space(ROOT / "design_spaces" / f"{name}.yaml").sample(1, 0)[0].spec) for name in SPACES]


def plain_loop(spec: object, x: object, y: object, sched: dict, channels_last: bool) -> float:
    """Images/s of the simplest loop: pre-normalised tensor, randperm batches, forward, backward, step."""
    import torch

    from hwbench.models import build_model

    model = build_model(spec, seed=1).train()
    memory = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory)
    opt = sched["optimizer"]
    optimizer = torch.optim.SGD(
        model.parameters(), lr=opt["lr"], momentum=opt["momentum"], nesterov=True, weight_decay=opt["weight_decay"]
    )
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=sched["label_smoothing"])
    batch = sched["batch_size"]
    steps = len(y) // batch
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(sched["epochs"]):
        order = torch.randperm(len(y), generator=generator)
        for s in range(steps):
            idx = order[s * batch : (s + 1) * batch]
            loss = criterion(model(x[idx].contiguous(memory_format=memory)), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return steps * batch * sched["epochs"] / (time.perf_counter() - start)


def throughput(data: object, schedule: object, workdir: Path) -> list[dict]:
    """Part 1: side-by-side images/s, 1 thread."""
    import numpy as np
    import torch

    from hwbench.accuracy.prepare import normalise
    from hwbench.accuracy.trainer import train_job
    from hwbench.pipeline.train import at_resolution

    torch.set_num_threads(1)
    sched = {**schedule.math(), "epochs": EPOCHS, "eval_every": 1000}
    x = torch.from_numpy(normalise(np.load(data.files["train_x"]), data.mean, data.std))
    y = torch.from_numpy(np.load(data.files["train_y"]))
    rows = []
    for name, spec in specs():
        spec = at_resolution(spec, schedule.spec.resolution)
        job = {
            "spec_json": spec.canonical_json,
            "schedule": sched,
            "data": data.as_job(),
            "threads": 1,
            "device": "cpu",
            "weights_path": str(workdir / f"{name}.pt"),
        }
        plain, ours, ours_nocl = [], [], []
        for _ in range(ROUNDS):
            plain.append(plain_loop(spec, x, y, sched, channels_last=True))
            ours.append(train_job({**job, "channels_last": True})["images_per_second"])
            ours_nocl.append(train_job({**job, "channels_last": False})["images_per_second"])
        p, h, n = statistics.median(plain), statistics.median(ours), statistics.median(ours_nocl)
        rows.append(
            {
                "network": name,
                "plain_img_s": p,
                "hwbench_img_s": h,
                "ratio": h / p,
                "hwbench_no_channels_last": n,
                "channels_last_gain": h / n,
            }
        )
    return rows


def per_network(data: object, schedule: object, workdir: Path) -> list[dict]:
    """Part 2: the default schedule in worker processes, two worker layouts."""
    from hwbench.accuracy.trainer import train_job
    from hwbench.pipeline.train import at_resolution
    from hwbench.workers import run_jobs

    cores = os.cpu_count() or 1
    rows = []
    for workers in sorted({cores, 1}, reverse=True):
        threads = max(1, cores // workers)
        jobs = [
            (
                name,
                {
                    "spec_json": at_resolution(spec, schedule.spec.resolution).canonical_json,
                    "schedule": schedule.math(),
                    "data": data.as_job(),
                    "threads": threads,
                    "device": "cpu",
                    "channels_last": True,
                    "weights_path": str(workdir / f"{name}-{workers}.pt"),
                },
            )
            for name, spec in specs()
        ]
        start = time.perf_counter()
        results = dict(run_jobs(train_job, jobs, workers=workers, timeout=3600, threads=threads))
        wall = time.perf_counter() - start
        bad = [n for n, r in results.items() if r["status"] != "ok"]
        if bad:
            raise RuntimeError(f"training failed: {bad}: {results[bad[0]]['error']}")
        seconds = [r["train_seconds"] for r in results.values()]
        rows.append(
            {
                "workers_x_threads": f"{workers}x{threads}",
                "networks": len(jobs),
                "wall_min_per_network": wall / 60 / len(jobs),
                "median_train_min": statistics.median(seconds) / 60,
                "max_train_min": max(seconds) / 60,
                "median_top1": statistics.median(r["top1"] for r in results.values()),
            }
        )
    return rows


def main() -> None:
    """Run both parts and save the figures."""
    from hwbench.accuracy.datasets import parse_dataset
    from hwbench.accuracy.prepare import prepare
    from hwbench.accuracy.schedule import load_schedule

    load_start = os.getloadavg()[0]
    schedule = load_schedule("short")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        data = prepare(parse_dataset("digits"), schedule, 3, workdir / "data")
        speed = throughput(data, schedule, workdir)
        minutes = per_network(data, schedule, workdir)
    overall = statistics.median(r["ratio"] for r in speed)
    text = table(
        speed, ["network", "plain_img_s", "hwbench_img_s", "ratio", "hwbench_no_channels_last", "channels_last_gain"]
    )
    text += (
        f"\nmedian hwbench/plain = {overall:.3f} (goal >= 0.95); {EPOCHS} epochs x {ROUNDS} rounds, 1 thread, "
        f"batch {schedule.spec.batch_size}, {schedule.spec.resolution} px, digits ({data.sizes['train']} train)\n\n"
    )
    text += table(
        minutes,
        ["workers_x_threads", "networks", "wall_min_per_network", "median_train_min", "max_train_min", "median_top1"],
    )
    text += (
        f"\ndefault schedule '{schedule.name}' ({schedule.spec.epochs} epochs) on {os.cpu_count()} cores; "
        f"1-min load {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    )
    save(
        "trainer",
        text,
        {
            "throughput": speed,
            "median_ratio": overall,
            "per_network": minutes,
            "load_start": load_start,
            "load_end": os.getloadavg()[0],
        },
    )


if __name__ == "__main__":
    main()
