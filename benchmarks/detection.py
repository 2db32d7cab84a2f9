"""Detection latency in parts: for each CNN block, a detector trained on digits-det at 2 input sizes (128, 96 px),
timed at batch 1 on 24 test images on onnxruntime (fp32) and LiteRT (full int8), 1 thread each.

One sweep per size through hwbench's pipeline over the five det_<block> spaces (`--n` each, seed 0), trained on
det_demo cut to `--epochs` (at 96 px: temporary copies of the spaces, detector macro and schedule at 96 px, the
backbone spaces unchanged). The 128 px sweep runs every stage (export, measure, train + timing in parts), each
timed; the 96 px one only train + timing. Printed: per (size, target, block) mAP, graph / NMS / end-to-end ms,
NMS share, boxes before / above the score threshold / kept, NMS ms per 1,000 candidates; LiteRT int8 / onnxruntime
for graph and NMS; NMS ms per 1,000 candidates pooled over all images per target. `--demo` also times the
README's demo detection sweep. `python benchmarks/detection.py [--n 1] [--epochs 1] [--demo]`; `--quick`: one
network, a tiny schedule, output in a temp folder. Run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import common
import numpy as np
from common import ROOT, save, table

BLOCKS = ("mbconv", "mbconv_se", "fused_mbconv", "resnet_bottleneck", "convnext")
TARGETS = ("cpu-onnxruntime-1t", "cpu-tflite-int8-1t")
SIZES = (128, 96)
# det_demo's own 6 epochs: 27-66 s per detector on 2 idle cores (measured), and NMS figures need trained scores
# (after 1 epoch every (box, class) pair passes the 0.05 threshold). --epochs cuts it for a quicker, rougher run.
EPOCHS = 6
# Columns of the per-(size, target, block) table: medians over networks.
MEDIANS = ("map", "graph_ms", "nms_ms", "e2e_ms", "nms_share", "boxes_before", "boxes_above", "boxes_kept")
MEDIANS += ("nms_per_1000", "graph_proto_ms")
POOLED = ["target", "sizes", "images", "above_min", "above_max", "mean_ms_per_1000", "nms_ms_per_1000", "r2"]
# --quick: two short epochs on a subset; the second epoch's time is the steady training throughput.
QUICK = {"epochs": "2", "train_images": "64", "val_images": "32", "batch_size": "16", "eval_every": "2"}
# The README's demo detection command (16 detectors on det_demo, then the report).
DEMO = (
    "sweep --space det_mbconv --space det_convnext --target cpu-onnxruntime-1t --target cpu-tflite-int8-1t "
    "--dataset digits-det --n 8 --name det"
)


def sized_inputs(folder: Path, size: int, blocks: tuple[str, ...], changes: dict[str, str]) -> tuple[list[Path], Path]:
    """The detector space files and the schedule file (det_demo with `changes`) for one input size."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "hwbench" / "accuracy" / "schedules" / "det_demo.yaml").read_text()
    for key, value in {**changes, "resolution": str(size), "name": f"det_bench_{size}"}.items():
        text = _set(text, key, value)
    schedule = folder / "schedule.yaml"
    schedule.write_text(text)
    if size == 128:  # the shipped spaces: their macro's resolution is 128
        return [ROOT / "design_spaces" / f"det_{b}.yaml" for b in blocks], schedule
    macro = folder / "det_macro.yaml"
    macro.write_text(_set((ROOT / "design_spaces" / "macros" / "det.yaml").read_text(), "resolution", str(size)))
    spaces = []
    for block in blocks:
        path = folder / f"det_{block}.yaml"
        backbone = ROOT / "design_spaces" / f"{block}.yaml"
        path.write_text(f"name: det_{block}\nbackbone: {backbone}\ndetector: {macro}\n")
        spaces.append(path)
    return spaces, schedule


def _set(text: str, key: str, value: str) -> str:
    """A YAML text with its top-level `key: ...` line replaced, or added when it has none."""
    new, count = re.subn(rf"(?m)^{key}: .*$", f"{key}: {value}", text)
    return new if count else f"{text.rstrip()}\n{key}: {value}\n"


def run_size(folder: Path, size: int, blocks: tuple[str, ...], n: int, changes: dict[str, str]) -> dict[str, Any]:
    """One sweep at one size, stage by stage, each stage timed. The first size runs every stage (its wall time stands
    for a sweep's); the others only training, which ends with the timing in parts (exporting the trained weights):
    their untrained exports and graph measurements would cost minutes and feed no figure here."""
    from hwbench.pipeline import SweepRequest, run_sweep

    spaces, schedule = sized_inputs(folder, size, blocks, changes)
    request = SweepRequest(
        name=f"det{size}",
        spaces=spaces,
        targets=[ROOT / "targets" / f"{t}.yaml" for t in TARGETS],
        n=n,
        seed=0,
        store=folder / "hwbench.sqlite",
        report=False,
        dataset="digits-det",
        schedule=schedule,
    )
    walls, counts = {}, {}
    for stage in ("export", "measure", "train") if size == SIZES[0] else ("train",):
        start = time.perf_counter()
        counts[stage] = run_sweep(replace(request, stage=stage), _progress())
        walls[stage] = time.perf_counter() - start
        print(f"  {size} px {stage}: {walls[stage]:.1f} s {counts[stage]}", flush=True)
    return {"store": request.store, "sweep": request.name, "walls": walls, "counts": counts}


def _progress() -> Any:
    """No progress bars (the output is the result), but the sweep's notes, e.g. failures, are printed."""
    from hwbench.progress import NullProgress

    class Notes(NullProgress):
        def note(self, message: str) -> None:
            print(f"  note: {message}", flush=True)

    return Notes()


def collect(store_path: Path, sweep: str, size: int) -> dict[str, list[Any]]:
    """Rows per (network, target): mAP, latency parts, box counts, per-image points; trainings; failures."""
    from hwbench.store import Store
    from hwbench.store.detection import sweep_detection_timings

    store = Store(store_path, create=False)
    try:
        acc = {a["arch_id"]: a for a in store.sweep_accuracies(sweep)}
        archs = {a["arch_id"]: a for a in store.query("SELECT arch_id, boxes, head_macs, macs FROM archs")}
        proto = store.query(
            "SELECT r.arch_id, r.target, m.median_ms, m.status, m.error, m.disturbed, e.status AS export_status, "
            "e.error AS export_error FROM runs r LEFT JOIN measurements m USING (measure_key) "
            "LEFT JOIN exports e USING (export_key) WHERE r.sweep=?",
            (sweep,),
        )
        timings = sweep_detection_timings(store, sweep)
    finally:
        store.close()
    failures = [f"{size} px {a['block']} {a['arch_id'][:8]} training: {a['error']}" for a in acc.values() if a["error"]]
    failures += [
        f"{size} px {p['arch_id'][:8]} {p['target']}: {p['export_error'] or p['error']}"
        for p in proto
        if p["export_status"] != "ok" or p["status"] != "ok"
    ]
    failures += [
        f"{size} px {p['arch_id'][:8]} {p['target']}: graph measurement disturbed" for p in proto if p["disturbed"]
    ]
    graph_proto = {(p["arch_id"], p["target"]): p["median_ms"] for p in proto}
    rows = []
    for t in timings:
        if t["status"] != "ok":
            failures.append(f"{size} px {t['block']} {t['arch_id'][:8]} {t['target']} timing: {t['error']}")
            continue
        info, a, arch = json.loads(t["info_json"]), acc.get(t["arch_id"]), archs[t["arch_id"]]
        rows.append(
            {
                **{"size": size, "target": t["target"], "block": t["block"], "arch_id": t["arch_id"]},
                "map": a["map"] if a is not None else None,
                **{"boxes": arch["boxes"], "head_macs_M": arch["head_macs"] / 1e6, "macs_M": arch["macs"] / 1e6},
                "graph_proto_ms": graph_proto.get((t["arch_id"], t["target"])),
                **{k: t[k] for k in ("graph_ms", "nms_ms", "e2e_ms", "boxes_before", "boxes_above", "boxes_kept")},
                "nms_share": t["nms_ms"] / t["e2e_ms"] if t["nms_ms"] is not None else None,
                **{"nms_per_1000": t["nms_ms_per_1000"], "images": t["images"], "rounds": t["rounds"]},
                **{"image_nms_ms": info.get("nms_ms"), "image_above": info.get("above_threshold")},
            }
        )
    # Near-untrained scores put every (box, class) pair over the threshold: NMS then times meaningless counts.
    failures += [
        f"{size} px {r['block']} {r['arch_id'][:8]} {r['target']}: {r['boxes_above']:.0f} of {r['boxes_before']} "
        "candidates over the score threshold: scores barely trained, NMS figures not representative (--epochs)"
        for r in rows
        if r["boxes_above"] is not None and r["boxes_above"] >= 0.5 * r["boxes_before"]
    ]
    return {"rows": rows, "trainings": [_training(size, a) for a in acc.values()], "failures": failures}


def _training(size: int, a: Any) -> dict[str, Any]:
    """A training's figures; steady images/s from the last epoch (the first carries start-up costs)."""
    curve, info = json.loads(a["curve_json"] or "[]"), json.loads(a["info_json"] or "{}")
    steady = None
    if len(curve) >= 2:
        steady = info.get("train_images", 0) / (curve[-1]["seconds"] - curve[-2]["seconds"])
    return {
        **{"size": size, "block": a["block"], "arch_id": a["arch_id"], "status": a["status"]},
        **{"map": a["map"], "map50": a["map50"], "train_s": a["train_seconds"]},
        **{"img_s": a["images_per_second"], "img_s_last_epoch": steady},
    }


def _median(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (size, target, block): medians over its networks."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["size"], r["target"], r["block"]), []).append(r)
    return [
        {
            **dict(zip(("size", "target", "block"), key)),
            "nets": len(rs),
            **{k: _median([r[k] for r in rs]) for k in MEDIANS},
        }
        for key, rs in sorted(groups.items(), key=lambda kv: (-kv[0][0], kv[0][1], kv[0][2]))
    ]


def int8_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (size, block): LiteRT int8 / onnxruntime for graph and NMS, median over networks timed on both."""
    by = {(r["size"], r["arch_id"], r["target"]): r for r in rows}
    groups: dict[tuple, dict[str, list[float]]] = {}
    for (size, arch_id, target), ort in by.items():
        lite = by.get((size, arch_id, TARGETS[1]))
        if target != TARGETS[0] or lite is None:
            continue
        g = groups.setdefault((size, ort["block"]), {"graph": [], "nms": [], "above": []})
        g["graph"].append(lite["graph_ms"] / ort["graph_ms"])
        g["nms"].append(lite["nms_ms"] / ort["nms_ms"])
        g["above"].append(lite["boxes_above"] / max(ort["boxes_above"], 1))
    return [
        {"size": s, "block": b, "nets": len(g["graph"]), **{f"{k}_int8/ort": _median(v) for k, v in g.items()}}
        for (s, b), g in sorted(groups.items(), key=lambda kv: (-kv[0][0], kv[0][1]))
    ]


def pooled_slopes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per target (both sizes, then each size): NMS ms against boxes above threshold, least squares over images."""
    out = []
    for target in TARGETS:
        for size in (None, *SIZES):
            rs = [r for r in rows if r["target"] == target and size in (None, r["size"]) and r["image_nms_ms"]]
            x = np.asarray([a for r in rs for a in r["image_above"]], dtype=float)
            y = np.asarray([m for r in rs for m in r["image_nms_ms"]], dtype=float)
            if not len(x):
                continue
            fit: dict[str, float | None] = {"nms_ms_per_1000": None, "intercept_ms": None, "r2": None}
            if len(set(x.tolist())) >= 3:  # a slope needs counts that differ between images
                slope, intercept = np.polyfit(x, y, 1)
                r2 = 1 - float(np.sum((y - (slope * x + intercept)) ** 2) / np.sum((y - y.mean()) ** 2))
                fit = {"nms_ms_per_1000": 1000 * float(slope), "intercept_ms": float(intercept), "r2": r2}
            # Beside the marginal cost (slope), the average: all NMS time over all candidates.
            span = {"images": len(x), "above_min": int(x.min()), "above_max": int(x.max())}
            span["mean_ms_per_1000"] = 1000 * float(y.sum() / x.sum()) if x.sum() else None
            out.append({"target": target, "sizes": "both" if size is None else size, **span, **fit})
    return out


def demo_wall(folder: Path) -> dict[str, Any]:
    """Wall time of the README's demo detection sweep (CLI, fresh store, report included)."""
    store = folder / "demo" / "hwbench.sqlite"
    command = [sys.executable, "-m", "hwbench", *DEMO.split(), "--store", str(store)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"demo sweep failed ({done.returncode}): {done.stderr[-2000:]}")
    return {"command": "hwbench " + DEMO, "wall_s": wall, "last_line": done.stdout.strip()[-400:]}


def report(data: dict[str, Any]) -> str:
    """The tables and the conditions as text."""
    walls = "; ".join(
        f"{size} px " + ", ".join(f"{k} {v:.0f} s" for k, v in r["walls"].items()) for size, r in data["runs"].items()
    )
    first = data["runs"][str(SIZES[0])]
    counts = {k: v for c in first["counts"].values() for k, v in c.items()}
    sweep = (
        f"the {SIZES[0]} px sweep ({counts.get('archs')} detectors, {len(TARGETS)} targets: {counts.get('exports')} "
        f"exports, {counts.get('measurements')} graph measurements, {counts.get('trained')} trainings, "
        f"{counts.get('detection_timings')} timings in parts; no report) took {sum(first['walls'].values()):.0f} s"
    )
    demo = data["demo"]
    demo_line = (
        f"demo detection sweep `{demo['command']}`: {demo['wall_s']:.0f} s"
        if demo
        else f"demo detection sweep not timed (--demo: it trains 16 detectors on det_demo); instead, {sweep}"
    )
    columns, failures = ["size", "target", "block", "nets", *MEDIANS], "\n".join(data["failures"])
    return (
        f"{os.cpu_count()} cores; 1-min load average {data['load'][0][0]:.2f} before, {data['load'][1][0]:.2f} after; "
        f"schedule {data['schedule']}\nstage walls: {walls}\n{demo_line}\n\n"
        + table(data["trainings"], ["size", "block", "status", "map", "map50", "train_s", "img_s", "img_s_last_epoch"])
        + "\n\nMedians over networks of per-image medians (24 digits-det test images, batch 1, 1 thread, trained "
        "weights, NMS on the host in numpy: score >= 0.05, IoU 0.5, top-k 1000 per class, 100 detections).\n"
        "boxes_before = anchors x classes; boxes_above = (box, class) pairs over the score threshold; nms_per_1000 = "
        "NMS ms per 1,000 of those (least squares over a network's images); graph_proto_ms = the measure stage's graph "
        "latency (random input, untrained weights, full protocol).\n\n"
        + table(data["summary"], columns)
        + "\n\nLiteRT int8 / onnxruntime fp32, per network then median (above: boxes over the threshold):\n\n"
        + table(data["ratios"], ["size", "block", "nets", "graph_int8/ort", "nms_int8/ort", "above_int8/ort"])
        + "\n\nNMS ms per 1,000 candidates over every image of every network: mean = total NMS ms / total "
        "candidates; nms_ms_per_1000 = least-squares slope (the cost of 1,000 more), with its r2:\n\n"
        + table(data["pooled"], POOLED)
        + (f"\n\nFailures and warnings:\n{failures}" if failures else "\n\nNo failures or warnings.")
    )


def main() -> None:
    """Run both sweeps (and the demo when asked); print and save the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1, help="detectors per block and size")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="det_demo's epochs (6) cut to this many")
    parser.add_argument("--demo", action="store_true", help="also time the README's demo detection sweep")
    parser.add_argument("--quick", action="store_true", help="1 network, tiny schedule, results in a temp folder")
    args = parser.parse_args()
    blocks, n = (BLOCKS[:1], 1) if args.quick else (BLOCKS, args.n)
    changes = QUICK if args.quick else {"epochs": str(args.epochs)}
    folder = Path(tempfile.mkdtemp(prefix="hwbench-det-bench-"))
    load_before = os.getloadavg()
    runs, found = {}, {"rows": [], "trainings": [], "failures": []}
    for size in SIZES:
        run = run_size(folder / str(size), size, blocks, n, changes)
        for key, values in collect(run.pop("store"), run["sweep"], size).items():
            found[key] += values
        runs[str(size)] = run
    data = {
        **{"quick": args.quick, "blocks": list(blocks), "nets_per_block": n, "runs": runs},
        "schedule": "det_demo with " + ", ".join(f"{k} {v}" for k, v in changes.items()),
        "demo": demo_wall(folder) if args.demo else None,
        "load": [load_before, os.getloadavg()],
        "summary": summarise(found["rows"]),
        "ratios": int8_ratios(found["rows"]),
        "pooled": pooled_slopes(found["rows"]),
        **found,
    }
    if args.quick:  # a smoke check: never written over the results
        common.RESULTS = folder
    save("detection_quick" if args.quick else "detection", report(data), data)
    if args.quick:
        print(f"(quick: written under {folder})")


if __name__ == "__main__":
    main()
