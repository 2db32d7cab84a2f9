"""Fast evaluation (cache + masking + NMS) equals running the surgically pruned network; removing nothing gives the
original detections and mAP; the cache streams from disk and refuses thresholds below its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hwbench.accuracy.detection.cocoeval import evaluate_detections
from hwbench.accuracy.detection.data import DetectionSplit
from hwbench.models import build_model
from hwbench.postprocess.nms import NmsSettings, postprocess
from hwbench.pruning.anchor_index import box_anchor_ids
from hwbench.pruning.cache import PredictionCache, build_cache
from hwbench.pruning.fast_eval import detections, score
from hwbench.pruning.surgery import prune_model
from tests.models.test_detector import tiny
from tests.pruning.test_surgery import ANCHORS, spread

SETTINGS = NmsSettings(score_threshold=0.3, iou_threshold=0.5, pre_nms_top_k=20, max_detections=15)
IMAGES = 12


def outputs(model: torch.nn.Module, images: torch.Tensor) -> list[tuple[np.ndarray, np.ndarray]]:
    with torch.no_grad():
        return [tuple(t[0].numpy() for t in model(images[i : i + 1])) for i in range(len(images))]  # type: ignore[misc]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A seeded tiny detector, 12 images, its cache, and a split whose ground truth is the detector's own
    detections on half of them (so mAP is high and moves when anchors go)."""
    spec = tiny("ssdlite", anchors=ANCHORS)
    model = spread(build_model(spec))
    images = torch.randn(IMAGES, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    full = outputs(model, images)
    dets = [postprocess(b, s, SETTINGS) for b, s in full]
    split = DetectionSplit(
        classes=("a", "b"),
        images=np.zeros((IMAGES, 32, 32, 3), np.uint8),
        boxes=[d.boxes[: 1 + i % 3] for i, d in enumerate(dets)],
        labels=[d.labels[: 1 + i % 3] for i, d in enumerate(dets)],
        image_ids=tuple(str(i) for i in range(IMAGES)),
        orig_sizes=np.full((IMAGES, 2), 32, np.int64),
    )
    root = tmp_path_factory.mktemp("cache")
    cache = build_cache(root / "c", iter(full), 0.2, len(box_anchor_ids(spec.arch)))
    return {"spec": spec, "model": model, "images": images, "full": full, "cache": cache, "split": split}


def test_removing_nothing_is_the_original(setup: dict) -> None:
    ids = box_anchor_ids(setup["spec"].arch)
    fast = detections(setup["cache"], ids, set(), SETTINGS)
    for got, (b, s) in zip(fast, setup["full"], strict=True):
        want = postprocess(b, s, SETTINGS)
        assert np.array_equal(got.indices, want.indices) and np.array_equal(got.labels, want.labels)
        assert np.array_equal(got.scores, want.scores) and np.array_equal(got.boxes, want.boxes)
        assert (got.above_threshold, got.after_top_k, got.kept) == (want.above_threshold, want.after_top_k, want.kept)
    original = evaluate_detections(setup["split"], [(d.boxes, d.scores, d.labels) for d in fast])
    assert score(setup["cache"], setup["split"], ids, set(), SETTINGS).metrics["map"] == original["map"] > 0.5


@pytest.mark.parametrize("removed", [{1}, {2, 3}, {0, 5}, {0, 1, 4}])
def test_fast_equals_pruned_network(setup: dict, removed: set[int]) -> None:
    spec = setup["spec"]
    ids = box_anchor_ids(spec.arch)
    pruned, _ = prune_model(setup["model"], spec.arch, removed)
    slow = [postprocess(b, s, SETTINGS) for b, s in outputs(pruned, setup["images"])]
    fast = detections(setup["cache"], ids, removed, SETTINGS)
    kept_rows = np.flatnonzero(~np.isin(ids, list(removed)))  # pruned box j is original box kept_rows[j]
    for f, s in zip(fast, slow, strict=True):
        assert np.array_equal(f.indices, kept_rows[s.indices]) and np.array_equal(f.labels, s.labels)
        np.testing.assert_allclose(f.scores, s.scores, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(f.boxes, s.boxes, rtol=1e-5, atol=1e-3)
    fast_map = score(setup["cache"], setup["split"], ids, removed, SETTINGS).metrics["map"]
    slow_map = evaluate_detections(setup["split"], [(d.boxes, d.scores, d.labels) for d in slow])["map"]
    assert fast_map == pytest.approx(slow_map, abs=1e-9)


def test_cache_reopens_and_guards_its_threshold(setup: dict) -> None:
    cache = PredictionCache(setup["cache"].folder)
    assert len(cache) == IMAGES and cache.score_threshold == 0.2 and cache.bytes > 0
    low = NmsSettings(score_threshold=0.1)
    with pytest.raises(ValueError, match="below the cache's 0.2"):
        detections(cache, box_anchor_ids(setup["spec"].arch), set(), low)
    with pytest.raises(FileNotFoundError, match="not a prediction cache"):
        PredictionCache(Path(cache.folder).parent)
