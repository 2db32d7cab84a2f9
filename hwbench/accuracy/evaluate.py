"""Accuracy of a trained PyTorch model, and of an exported artifact run through its own runtime."""

from __future__ import annotations

import os
import time
import traceback
from typing import Any

import numpy as np

TOKEN_FACTS = ("token_form", "calibration", "capacities", "calibration_images")


def topk_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float | None]:
    """top-1, top-5 (None with ≤ 5 classes: it would be trivially 1) and mean cross-entropy."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(len(labels)), labels].mean())
    # Rank of the true class: how many classes score strictly higher (ties count in the model's favour).
    rank = (logits > logits[np.arange(len(labels)), labels][:, None]).sum(axis=1)
    top5 = float((rank < 5).mean()) if logits.shape[1] > 5 else None
    return {"top1": float((rank < 1).mean()), "top5": top5, "loss": loss}


def evaluate_model(model: Any, data: Any, batch: int, channels_last: bool) -> dict[str, float | None]:
    """Evaluate a torch model on a DeviceData split (eval mode, no gradients)."""
    import torch

    was_training = model.training
    model.eval()
    outputs = []
    with torch.inference_mode():
        for i in range(0, len(data), batch):
            idx = torch.arange(i, min(i + batch, len(data)), device=data.device)
            outputs.append(model(data.images(idx, channels_last)).float().cpu())
    model.train(was_training)
    return topk_metrics(torch.cat(outputs).numpy(), data.y.cpu().numpy())


def run_artifact(session: Any, images: np.ndarray) -> np.ndarray:
    """Logits of normalised NCHW images through a runner Session, in the artifact's own batch size and layout."""
    spec = session.inputs()[0]
    shape = tuple(spec.shape)
    n, c, h, w = images.shape
    if len(shape) != 4:
        raise ValueError(f"the artifact takes a rank-{len(shape)} input {shape}, not images")
    nhwc = shape[1:] == (h, w, c) and shape[1:] != (c, h, w)
    if not nhwc and shape[1:] != (c, h, w):
        raise ValueError(f"the artifact takes {shape}; the validation images are {c}×{h}×{w}")
    step = max(1, shape[0])
    outputs = []
    for i in range(0, n, step):
        chunk = images[i : i + step]
        real = len(chunk)
        if real < step:  # a fixed batch size: pad with copies, keep only the real rows
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], step - real, axis=0)])
        if nhwc:
            chunk = chunk.transpose(0, 2, 3, 1)
        out = session.run([np.ascontiguousarray(chunk, dtype=np.float32)])[0]
        outputs.append(np.asarray(out, dtype=np.float32).reshape(step, -1)[:real])
    return np.concatenate(outputs)


def _int8_facts(info: dict[str, Any]) -> dict[str, Any]:
    if "recipe" not in info:  # only int8 exports name a recipe
        return {}
    fidelity = {k: v for k, v in info.get("parity", {}).items() if k.startswith("int8_")}
    return {"int8_calibration": info.get("calibration"), "int8_fidelity": fidelity}


def evaluate_artifact_job(job: dict[str, Any]) -> dict[str, Any]:
    """Export the trained weights under a target's profile, then score the artifact through its runner."""
    start = time.perf_counter()
    try:
        from hwbench.accuracy.prepare import PreparedData, calibration_images, normalise
        from hwbench.export.job import run_export
        from hwbench.runners import get_runner

        data = PreparedData(**job["data"])
        export = job["export"]
        if job.get("calibration_images"):
            # int8: calibrate on training images and measure fidelity on validation images of the dataset the
            # weights were trained on (files beside the prepared splits, a temporary folder of the stage).
            folder = os.path.dirname(data.files["train_x"])
            calib_path = os.path.join(folder, f"calibration-{job['acc_key']}.npy")
            np.save(calib_path, calibration_images(data, int(job["calibration_images"])))
            fidelity_path = os.path.join(folder, f"fidelity-{job['acc_key']}.npy")
            x_val = np.load(data.files["val_x"], mmap_mode="r")
            np.save(fidelity_path, normalise(np.asarray(x_val[: int(job["calibration_images"])]), data.mean, data.std))
            files = {"calibration": calib_path, "validation": fidelity_path}
            export = {**export, "calibration": {**job["dataset_calibration"], "files": files}}
        if job.get("token_inputs"):
            # Data-dependent ViTs: token slots (fixed_count) and per-input counts on the dataset's images.
            from hwbench.export.artifacts import file_hash
            from hwbench.models.vit_deploy import DATASET_IMAGES

            folder = os.path.dirname(data.files["train_x"])
            token_path = os.path.join(folder, f"tokens-{job['acc_key']}.npy")
            np.save(token_path, calibration_images(data, DATASET_IMAGES))
            source = f"dataset {data.dataset} ({data.dataset_id})"
            token = {"path": token_path, "hash": file_hash(token_path), "extension": ".npy", "source": source}
            export = {**export, "token_inputs": token}
        exported = run_export(export)
        if exported["status"] != "ok":
            return {**exported, "error": f"export of the trained weights failed: {exported['error']}"}
        from hwbench.export.artifacts import ArtifactStore

        path = ArtifactStore(export["artifact_dir"]).path(exported["artifact_hash"], exported["extension"])
        runner = get_runner(job["runner"])
        session = runner.open(str(path), int(job["threads"]), runner.options(**job.get("runner_options", {})))
        try:
            x = np.load(data.files["val_x"], mmap_mode="r")
            y = np.load(data.files["val_y"])
            logits = np.concatenate(
                [
                    run_artifact(session, normalise(np.asarray(x[i : i + 512]), data.mean, data.std))
                    for i in range(0, len(y), 512)
                ]
            )
        finally:
            session.close()
        return {
            "status": "ok",
            **topk_metrics(logits, y),
            "train_seconds": None,
            "info": {
                "artifact_hash": exported["artifact_hash"],
                "extension": exported["extension"],
                "export_seconds": exported["export_seconds"],
                "parity_ok": exported["parity_ok"],
                "max_rel_err": exported["max_rel_err"],
                # int8: which images calibrated the quantizer, and its fidelity against PyTorch.
                **_int8_facts(exported["info_json"]),
                "eval_seconds": time.perf_counter() - start,
                "val_images": len(y),
                # Token-reduced ViTs: the form scored and what it was prepared with (trained: no calibration).
                **{k: exported["info_json"][k] for k in TOKEN_FACTS if k in exported["info_json"]},
            },
        }
    except Exception as exc:
        return {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}".strip()[:2000],
            "info": {"traceback": traceback.format_exc()[-4000:]},
        }
