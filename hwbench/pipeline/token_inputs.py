"""The images a data-dependent ViT (LTMP, MLP pruner) is prepared on, counted on and timed on image by image.

With a dataset, DATASET_IMAGES of its training images (classes in proportion, normalised as in training,
resized to the network's resolution); without, the seeded random calibration images. Written once per
network into the artifact store as a content-addressed .npy, named in the export job and, for artifacts in the
`dynamic` form, in the export record, so the measurement stage can time each image (docs/vit.md).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

from hwbench.blocks import get_block
from hwbench.export.artifacts import ArtifactStore
from hwbench.space.archspec import ArchSpec

EXTENSION = ".npy"


def uses_token_inputs(spec: ArchSpec) -> bool:
    """Whether the network's token count can follow the image (its block has a `dynamic` form)."""
    return "dynamic" in get_block(spec.block).token_forms


def inputs_key(plan: Any) -> dict[str, Any] | None:
    """What the export key of such a network records about its images: None for the seeded random ones
    (export keys of sweeps without a dataset stay as they were)."""
    from hwbench.models.vit_deploy import DATASET_IMAGES

    tp = plan.training
    if tp is None or getattr(tp, "task", "") == "detection":
        return None
    return {"source": "dataset", "dataset_id": tp.dataset_id, "count": DATASET_IMAGES}


class TokenInputs:
    """Writes (once) and names the images file of each network of a sweep."""

    def __init__(self, plan: Any, artifacts: ArtifactStore) -> None:
        self.plan, self.artifacts = plan, artifacts
        self.files: dict[str, dict[str, Any]] = {}
        self.dataset: dict[tuple[int, int], np.ndarray] = {}

    def source(self) -> str:
        """Where the images come from, as recorded with every export and measurement."""
        tp = self.plan.training
        return "random (seeded)" if tp is None else f"dataset {tp.ref} ({tp.dataset_id})"

    def for_arch(self, spec: ArchSpec) -> dict[str, Any]:
        """{path, hash, extension, source} of the images file for `spec` (written on first use)."""
        if spec.arch_id not in self.files:
            images = self._images(spec)
            self.artifacts.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=EXTENSION, dir=self.artifacts.root)
            os.close(fd)
            np.save(tmp, np.ascontiguousarray(images, dtype=np.float32))
            digest, path = self.artifacts.put(tmp, EXTENSION)
            self.files[spec.arch_id] = {"path": str(path), "hash": digest, "extension": EXTENSION}
        return {**self.files[spec.arch_id], "source": self.source()}

    def _images(self, spec: ArchSpec) -> np.ndarray:
        arch = spec.arch
        resolution, channels = int(arch.resolution), int(arch.in_channels)  # type: ignore[attr-defined]
        tp = self.plan.training
        if tp is None:
            from hwbench.models.vit_deploy import calibration_images

            return calibration_images(spec).numpy()
        if (resolution, channels) not in self.dataset and getattr(tp, "task", "") == "detection":
            from hwbench.models.vit_deploy import DATASET_IMAGES
            from hwbench.pipeline.det_plan import calibration_images as det_images

            # A pruning ViT detector: training images of the detection dataset, normalised as it is fed.
            self.dataset[(resolution, channels)] = det_images(tp.ref, DATASET_IMAGES, resolution)
        if (resolution, channels) not in self.dataset:
            from hwbench.accuracy.calibration import calibration_set
            from hwbench.models.vit_deploy import DATASET_IMAGES

            s = tp.schedule.spec
            self.dataset[(resolution, channels)] = calibration_set(
                str(tp.ref), DATASET_IMAGES, resolution, channels, s.normalize, 0, s.val_fraction
            )
        return self.dataset[(resolution, channels)]
