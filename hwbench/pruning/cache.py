"""A trained detector's candidates per image, on disk: every (box, class) over the score threshold with its score,
its decoded box and the box (hence anchor) it came from — the paper's prediction cache.

Kept before the pre-NMS top-k, so scoring any anchor subset from the cache gives exactly the detections the pruned
network would give (the top-k is applied after masking, in `fast_eval`). Written image by image into flat binary
files and read back memory-mapped, so neither building nor reading it holds more than one image in memory.
Content-addressed: the caller names the folder by the digest of weights, split and score threshold.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# File name → dtype and columns per candidate.
FIELDS = {"rows": (np.int32, 1), "labels": (np.int16, 1), "scores": (np.float32, 1), "boxes": (np.float32, 4)}
META = "cache.json"
VERSION = 1


@dataclass(frozen=True)
class ImageCandidates:
    """One image's candidates: box index, class, score and decoded box (xyxy input pixels)."""

    rows: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray


def build_cache(
    folder: Path, outputs: Iterable[tuple[np.ndarray, np.ndarray]], score_threshold: float, num_boxes: int
) -> PredictionCache:
    """Write the candidates of every image's (boxes [N, 4], scores [N, C]) into `folder` (atomically)."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    files = {name: open(tmp / f"{name}.bin", "wb") for name in FIELDS}  # noqa: SIM115 (closed below)
    offsets, classes = [0], None
    try:
        for boxes, scores in outputs:
            boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
            scores = np.asarray(scores, np.float32)
            if len(boxes) != num_boxes or scores.shape[0] != num_boxes:
                raise ValueError(f"expected {num_boxes} boxes per image, got {len(boxes)} and scores {scores.shape}")
            classes = scores.shape[1]
            rows, cols = np.nonzero(scores >= np.float32(score_threshold))
            columns = {"rows": rows, "labels": cols, "scores": scores[rows, cols], "boxes": boxes[rows]}
            for name, (dtype, _) in FIELDS.items():
                files[name].write(np.ascontiguousarray(columns[name], dtype=dtype).tobytes())
            offsets.append(offsets[-1] + len(rows))
    finally:
        for f in files.values():
            f.close()
    np.save(tmp / "offsets.npy", np.asarray(offsets, np.int64))
    meta = {
        "version": VERSION,
        "images": len(offsets) - 1,
        "candidates": offsets[-1],
        "classes": classes,
        "num_boxes": num_boxes,
        "score_threshold": score_threshold,
    }
    (tmp / META).write_text(json.dumps(meta, indent=1))
    if folder.exists():  # built meanwhile by another process: same content by construction
        _remove(tmp)
    else:
        os.replace(tmp, folder)
    return PredictionCache(folder)


def _remove(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


class PredictionCache:
    """A built cache, memory-mapped."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        meta_path = self.folder / META
        if not meta_path.is_file():
            raise FileNotFoundError(f"{self.folder}: not a prediction cache (no {META})")
        self.meta = json.loads(meta_path.read_text())
        self.offsets = np.load(self.folder / "offsets.npy")
        total = int(self.offsets[-1])
        self._data = {
            name: (
                np.memmap(
                    self.folder / f"{name}.bin", dtype=dtype, mode="r", shape=(total, width) if width > 1 else (total,)
                )
                if total
                else np.zeros((0, width) if width > 1 else 0, dtype)
            )
            for name, (dtype, width) in FIELDS.items()
        }

    def __len__(self) -> int:
        return int(self.meta["images"])

    @property
    def score_threshold(self) -> float:
        """The threshold candidates were kept at (NMS settings scored from this cache must not go below it)."""
        return float(self.meta["score_threshold"])

    @property
    def bytes(self) -> int:
        """Size on disk."""
        return sum(p.stat().st_size for p in self.folder.iterdir())

    def image(self, i: int) -> ImageCandidates:
        """Image i's candidates (copied out of the map: one image in memory at a time)."""
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        d = self._data
        return ImageCandidates(
            np.array(d["rows"][lo:hi]),
            np.array(d["labels"][lo:hi]),
            np.array(d["scores"][lo:hi]),
            np.array(d["boxes"][lo:hi]),
        )
