"""What an anchor set costs: head MACs (counted on the built head), boxes per image, and a *predicted* end-to-end
latency on a target from the detector's measured parts there.

The latency model (labelled predicted wherever it is shown, never mixed with measured figures):
- graph: the measured graph time minus the removed MACs at the network's own measured ms per MAC on that target
  (removing predictor rows, or a whole level with its extra pyramid convs, costs what an average MAC of this
  network costs there); the work that scales with boxes (decoding, softmax) is not modelled;
- NMS: a least-squares line of the measured per-image NMS time against the per-image candidates over the score
  threshold (or, where the images' counts are too alike to pin a slope, time proportional to the count),
  evaluated at the anchor set's own mean candidate count (known exactly from the prediction cache).
The chosen front points are then measured for real, and the prediction is reported against the measurement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwbench.pruning.anchor_index import pruned_arch
from hwbench.space.anchors import count_boxes
from hwbench.space.archspec import ArchSpec
from hwbench.space.detection import DetArch, pyramid

COSTS = ("macs", "boxes", "latency")


def boxes(arch: DetArch, removed: frozenset[int]) -> int:
    """Boxes per image the pruned detector predicts."""
    small = pruned_arch(arch, removed)
    return count_boxes(small.anchors, [lv.size for lv in pyramid(small)])


def network_macs(arch: DetArch, removed: frozenset[int]) -> int:
    """MACs of the whole pruned detector: its head, and the extra pyramid levels and backbone stages it still runs
    (a level past the last one with anchors is not built, and without extras no stage after it runs: head MACs
    alone do not see either)."""
    small = pruned_arch(arch, removed)
    return _network_macs(ArchSpec(arch).canonical_json, _structure(small), ArchSpec(small))


def _structure(arch: DetArch) -> tuple:
    """What the MACs depend on: anchors per level and, for a head shared across levels, the shapes it predicts."""
    shapes = sorted({(a.scale, a.ratio) for level in arch.anchors.levels for a in level})
    return (tuple(arch.anchors.per_level), len(shapes) if arch.head.type == "retinanet_lite" else 0)


_MACS: dict[tuple[str, tuple], int] = {}


def _network_macs(parent: str, structure: tuple, spec: ArchSpec) -> int:
    # Every anchor set with the same structure costs the same: count one of them (meta device) and remember it.
    key = (parent, structure)
    if key not in _MACS:
        from hwbench.models.complexity import complexity

        _MACS[key] = int(complexity(spec).macs)
    return _MACS[key]


def head_macs(arch: DetArch, removed: frozenset[int]) -> int:
    """MACs of the pruned detector's head at its input size (counted on the built head, meta device)."""
    from hwbench.models.detector import head_macs as count

    return count(ArchSpec(pruned_arch(arch, removed)))


@dataclass(frozen=True)
class LatencyModel:
    """A target's predicted end-to-end latency of anchor sets of one detector, from its measured parts."""

    target: str
    graph_ms: float
    ms_per_mac: float
    nms_intercept_ms: float
    nms_ms_per_candidate: float
    macs: int
    head_macs: int
    nms_fit: str = "line"  # line | proportional | constant (see _nms_line)

    def predict(self, removed_macs: int, mean_candidates: float) -> dict[str, float]:
        """Predicted graph, NMS and end-to-end ms of an anchor set that removes `removed_macs` of the network's."""
        graph = self.graph_ms - self.ms_per_mac * removed_macs
        nms = self.nms_intercept_ms + self.nms_ms_per_candidate * mean_candidates
        return {"graph_ms": graph, "nms_ms": nms, "e2e_ms": graph + nms}

    def as_dict(self) -> dict[str, Any]:
        """The fitted parameters (stored with every search that uses them)."""
        return dict(self.__dict__)


def fit_latency(target: str, timing: Mapping[str, Any], macs: int, head: int) -> LatencyModel:
    """Fit the model to one detection timing record (host NMS placement) of the unpruned detector on `target`."""
    if timing["status"] != "ok":
        raise ValueError(f"{target}: the detector's timing record failed ({timing['error']}); nothing to fit")
    if timing["placement"] != "host":
        raise ValueError(f"{target}: NMS ran inside the graph there, so its time cannot be told apart; use host NMS")
    info = json.loads(timing["info_json"] or "{}")
    nms_ms, above = info.get("nms_ms") or [], info.get("above_threshold") or []
    if len(nms_ms) != len(above) or len(nms_ms) < 3 or any(v is None for v in above):
        raise ValueError(f"{target}: the timing record has no per-image NMS times and candidate counts to fit")
    x, y = np.asarray(above, float), np.asarray(nms_ms, float)
    slope, intercept, fit = _nms_line(x, y)
    graph = float(timing["graph_ms"])
    return LatencyModel(target, graph, graph / macs, intercept, slope, int(macs), int(head), fit)


def _nms_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, str]:
    """(ms per candidate, ms at zero candidates, how fitted) of NMS time against candidates over the threshold.

    A least-squares line when the images' counts spread enough to pin a slope (largest at least 1.5x the
    smallest) and it comes out physical (both terms >= 0); otherwise NMS time proportional to the count
    through the origin. A near-untrained detector sends nearly every pair over the threshold on every image,
    and a line fitted to that narrow spread extrapolates to nonsense (a negative slope was seen).
    """
    if x.min() > 0 and x.max() >= 1.5 * x.min():
        slope, intercept = (float(v) for v in np.polyfit(x, y, 1))
        if slope >= 0 and intercept >= 0:
            return slope, intercept, "line"
    if x.sum() <= 0:
        return 0.0, float(y.mean()), "constant"
    return float(y.sum() / x.sum()), 0.0, "proportional"
