"""What an anchor-pruning run starts from, read from the store: the sweep's trained detector, its weights, the
evaluation split it was scored on (checked unchanged), its normalisation and post-processing settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.errors import HwbenchError
from hwbench.postprocess.nms import NmsSettings
from hwbench.space.archspec import ArchSpec
from hwbench.space.detection import DetArch
from hwbench.store import Store


@dataclass
class Trained:
    """A sweep's trained detector and everything needed to score it again."""

    sweep: str
    spec: ArchSpec
    acc_key: str
    map: float
    weights: Path
    weights_sha256: str
    dataset_arg: str
    dataset_id: str
    resolution: int
    mean: list[float]
    std: list[float]
    nms: NmsSettings
    schedule: dict[str, Any]  # the schedule's mathematical content, as trained
    seed: int

    @property
    def arch(self) -> DetArch:
        """The detector's architecture."""
        return self.spec.arch  # type: ignore[return-value]

    def test_split(self) -> Any:
        """The evaluation split the stored mAP was scored on (refused if the dataset changed since)."""
        from hwbench.accuracy.detection.data import inspect_detection_dataset, parse_detection_dataset
        from hwbench.store.keys import digest

        ref = parse_detection_dataset(self.dataset_arg)
        info = inspect_detection_dataset(ref)
        now = digest({"dataset": ref.name, "loader_version": ref.definition.version, "content": info.fingerprint})
        if now != self.dataset_id:
            raise HwbenchError(
                f"dataset {self.dataset_arg}: its content changed since the detector was trained and scored "
                "(fingerprint differs); prune against the data it was scored on"
            )
        from hwbench.accuracy.detection.trainer import subset_indices

        test = ref.definition.load(ref.path, self.resolution).test
        # The images training scored (all, or its seeded subset), so the unpruned set scores the stored mAP.
        idx = subset_indices(len(test), self.schedule.get("val_images"), self.seed + 1)
        return test if idx is None else test.subset(idx)

    def model(self) -> Any:
        """The trained detector (torch, CPU, eval mode)."""
        import torch

        from hwbench.models import build_model

        model = build_model(self.spec)
        model.load_state_dict(torch.load(self.weights, map_location="cpu", weights_only=True))
        return model.eval()


def trained_detector(store: Store, sweep: str, arch_id: str) -> Trained:
    """The sweep's trained detector `arch_id` (HwbenchError naming what is missing)."""
    from hwbench.export.artifacts import file_hash

    store.require_sweeps([sweep])
    if arch_id not in store.sweep_arch_ids(sweep):
        raise HwbenchError(f"--arch {arch_id}: no such network in sweep {sweep!r} (see `hwbench show {sweep}`)")
    rows = store.query(
        "SELECT a.* FROM sweep_accuracy l JOIN accuracies a ON a.acc_key = l.acc_key "
        "WHERE l.sweep=? AND l.arch_id=? AND a.status='ok' AND a.map IS NOT NULL AND a.source='trained' "
        "ORDER BY a.created_at DESC",
        (sweep, arch_id),
    )
    if not rows:
        raise HwbenchError(
            f"--arch {arch_id}: sweep {sweep!r} has no trained detector of that id (anchor pruning starts from "
            "trained weights: run the sweep with a detection dataset first)"
        )
    row = rows[0]
    info = json.loads(row["info_json"] or "{}")
    weights = Path(info.get("weights", {}).get("path", ""))
    if not weights.is_absolute():
        weights = store.path.parent / weights
    if not weights.is_file():
        raise HwbenchError(f"{weights}: the trained weights of {arch_id} are missing (moved or deleted?)")
    spec_json = store.query("SELECT spec_json FROM archs WHERE arch_id=?", (arch_id,))[0]["spec_json"]
    return Trained(
        sweep=sweep,
        spec=ArchSpec.from_json(spec_json),
        acc_key=row["acc_key"],
        map=float(row["map"]),
        weights=weights,
        weights_sha256=file_hash(weights),
        dataset_arg=str(info["dataset_arg"]),
        dataset_id=row["dataset_id"],
        resolution=int(info["resolution"]),
        mean=list(info["normalisation"]["mean"]),
        std=list(info["normalisation"]["std"]),
        nms=NmsSettings.from_dict(info.get("nms"), f"stored training record {row['acc_key'][:12]}"),
        schedule=dict(info.get("schedule") or {}),
        seed=int(info.get("seed", 0)),
    )


def raw_outputs(model: Any, images: np.ndarray, mean: list[float], std: list[float]) -> Iterator[tuple]:
    """(boxes [N, 4], scores [N, C]) of every image (uint8 N×H×W×C), normalised as in training, one at a time."""
    import torch

    from hwbench.accuracy.batches import DeviceData

    data = DeviceData(images, np.arange(len(images)), tuple(mean), tuple(std), torch.device("cpu"))
    with torch.inference_mode():
        for i in range(len(images)):
            boxes, scores = model(data.images(torch.tensor([i]), channels_last=False))
            yield boxes[0].numpy(), scores[0].numpy()
