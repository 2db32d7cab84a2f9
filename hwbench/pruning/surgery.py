"""Checkpoint surgery: a trained detector cut down to an anchor subset without retraining.

The pruned network is built from the pruned architecture, and every tensor is copied from the trained one: the
final class and box convolutions keep only the rows of the kept anchors (K class rows and 4 box rows per anchor;
for the RetinaNet-lite head, per kept anchor shape of the shared predictors), a level left without anchors loses
its predictors (and its lateral, tower norms and, past the last used level, extra levels), everything else is
copied as is. The pruned outputs equal the trained network's outputs on the kept anchors.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from hwbench.pruning.anchor_index import pruned_arch
from hwbench.space.detection import DetArch


def _ssd_source(key: str, arch: DetArch, small: DetArch, k: int) -> tuple[str, torch.Tensor | None]:
    """Source key of a pruned SSD-lite head tensor, and the rows to keep (None: all)."""
    parts = key.split(".")  # head.{cls|box}.{j}.{0|1}...
    kind, j = parts[1], int(parts[2])
    used = [i for i, a in enumerate(arch.anchors.per_level) if a]
    used_small = [i for i, a in enumerate(small.anchors.per_level) if a]
    level = used_small[j]
    source = ".".join([*parts[:2], str(used.index(level)), *parts[3:]])
    if parts[3] != "1":  # the depthwise part of the predictor: unchanged
        return source, None
    width = k if kind == "cls" else 4
    kept = _kept_positions(arch, small, level)
    return source, torch.tensor([p * width + c for p in kept for c in range(width)])


def _kept_positions(arch: DetArch, small: DetArch, level: int) -> list[int]:
    """Positions in the original level's list of the anchors the pruned level keeps (in order)."""
    original = [(a.scale, a.ratio) for a in arch.anchors.levels[level]]
    kept, start = [], 0
    for a in small.anchors.levels[level]:
        start = original.index((a.scale, a.ratio), start)  # lists may repeat a shape: match in order
        kept.append(start)
        start += 1
    return kept


def _retina_source(key: str, arch: DetArch, small: DetArch, k: int) -> tuple[str, torch.Tensor | None]:
    """Source key of a pruned RetinaNet-lite head tensor, and the rows to keep (None: all)."""
    parts = key.split(".")
    used = [i for i, a in enumerate(arch.anchors.per_level) if a]
    used_small = [i for i, a in enumerate(small.anchors.per_level) if a]
    if parts[1] == "laterals":  # head.laterals.{j}.*
        return ".".join([*parts[:2], str(used.index(used_small[int(parts[2])])), *parts[3:]]), None
    if parts[1] == "tower" and parts[3] == "norms":  # head.tower.{d}.norms.{j}.*
        return ".".join([*parts[:4], str(used.index(used_small[int(parts[4])])), *parts[5:]]), None
    if parts[1] in ("cls", "box") and parts[2] == "1":  # the shared predictors' pointwise conv
        shapes = _union(arch)
        width = k if parts[1] == "cls" else 4
        rows = [shapes.index(s) * width + c for s in _union(small) for c in range(width)]
        return key, torch.tensor(rows)
    return key, None


def _union(arch: DetArch) -> list[tuple[float, float]]:
    return list(dict.fromkeys((a.scale, a.ratio) for level in arch.anchors.levels for a in level))


def prune_model(model: torch.nn.Module, arch: DetArch, removed: Iterable[int]) -> tuple[torch.nn.Module, DetArch]:
    """(the pruned detector with the trained weights sliced in, its architecture)."""
    from hwbench.models.detector import Detector

    small = pruned_arch(arch, removed)
    pruned = Detector(small)
    source = model.state_dict()
    k = arch.num_classes + 1 if arch.head.type == "ssdlite" else arch.num_classes
    head_source = _ssd_source if arch.head.type == "ssdlite" else _retina_source
    state = {}
    for key, target in pruned.state_dict().items():
        src, rows = head_source(key, arch, small, k) if key.startswith("head.") else (key, None)
        value = source[src]
        if rows is not None and value.dim() > 0:
            value = value.index_select(0, rows)
        if value.shape != target.shape:
            raise RuntimeError(f"surgery: {key} from {src} has shape {tuple(value.shape)}, not {tuple(target.shape)}")
        state[key] = value.clone()
    pruned.load_state_dict(state)
    pruned.train(model.training)
    return pruned, small
