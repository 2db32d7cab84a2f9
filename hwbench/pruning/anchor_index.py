"""Every anchor of a detector by one global index (levels in order, then the anchor's place in its level's list),
the anchor each output box comes from, and the detector with a set of anchors removed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from hwbench.space.detection import DetArch, pyramid


@dataclass(frozen=True)
class AnchorRef:
    """One anchor: its global index, level, place in the level's list, and shape."""

    index: int
    level: int
    position: int
    scale: float
    ratio: float

    def label(self) -> str:
        """A short name, e.g. `L1 s1.41 r2` (level, scale, ratio)."""
        return f"L{self.level} s{self.scale:.3g} r{self.ratio:.3g}"


def anchors_of(arch: DetArch) -> list[AnchorRef]:
    """The detector's anchors by global index."""
    out = []
    for level, anchors in enumerate(arch.anchors.levels):
        for position, a in enumerate(anchors):
            out.append(AnchorRef(len(out), level, position, a.scale, a.ratio))
    return out


def box_anchor_ids(arch: DetArch) -> np.ndarray:
    """[N] int32: the global anchor index of every output box, in the head's order (level, y, x, anchor)."""
    parts, offset = [], 0
    for level, anchors in zip(pyramid(arch), arch.anchors.levels, strict=True):
        count = len(anchors)
        if count:
            ids = np.arange(offset, offset + count, dtype=np.int32)
            parts.append(np.tile(ids, level.size * level.size))
        offset += count
    return np.concatenate(parts) if parts else np.zeros(0, np.int32)


def check_removed(arch: DetArch, removed: Iterable[int]) -> frozenset[int]:
    """`removed` as a frozenset of valid anchor indices that leaves at least one anchor; else ValueError."""
    total = sum(arch.anchors.per_level)
    found = frozenset(int(i) for i in removed)
    bad = sorted(i for i in found if not 0 <= i < total)
    if bad:
        raise ValueError(f"anchor index {bad[0]} does not exist (the detector has {total} anchors: 0..{total - 1})")
    if len(found) == total:
        raise ValueError("every anchor removed: a detector needs at least one")
    return found


def pruned_arch(arch: DetArch, removed: Iterable[int]) -> DetArch:
    """The detector with anchors `removed` taken out of their levels' lists (a level may end up empty)."""
    gone = check_removed(arch, removed)
    levels = [
        [a.model_dump() for a, ref in zip(anchors, refs, strict=True) if ref.index not in gone]
        for anchors, refs in zip(arch.anchors.levels, _by_level(arch), strict=True)
    ]
    data = arch.model_dump()
    data["anchors"] = {"levels": levels}
    return DetArch.model_validate(data)


def _by_level(arch: DetArch) -> list[list[AnchorRef]]:
    refs = anchors_of(arch)
    return [[r for r in refs if r.level == level] for level in range(len(arch.anchors.levels))]
