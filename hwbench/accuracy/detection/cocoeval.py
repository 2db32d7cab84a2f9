"""COCO-style mAP of detections on a DetectionSplit, computed by faster-coco-eval (a maintained COCO evaluator).

Ground truth and detections are built in memory and scaled back to each image's size on disk, so the
small/medium/large area ranges (32², 96² pixels) mean what they mean in COCO; IoU itself does not change under
the per-axis scaling. Crowd (COCO) and difficult (VOC) objects go in as crowd regions: detections on them are
neither true nor false positives. Areas are box areas (the split keeps no segmentation masks). As in COCO,
only the 100 highest-scoring detections of an image in each category count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hwbench.accuracy.detection.data import DetectionSplit

# COCOeval_faster.stats_as_dict name → our metric name.
METRICS = {
    "map": "AP_all",
    "map50": "AP_50",
    "map75": "AP_75",
    "map_small": "AP_small",
    "map_medium": "AP_medium",
    "map_large": "AP_large",
}
Detections = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes [D, 4] xyxy input pixels, scores [D], labels [D]


def xywh(boxes: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """xyxy input pixels → COCO [x, y, w, h] in the image's own pixels (float64)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4) * scale
    return np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)


def image_scale(split: DetectionSplit, i: int) -> np.ndarray:
    height, width = (int(v) for v in split.orig_sizes[i])
    return np.array([width, height, width, height], np.float64) / split.size


def ground_truth(split: DetectionSplit) -> dict[str, Any]:
    """The split as a COCO instances dict (image i → id i + 1, label c → category id c + 1)."""
    images, annotations = [], []
    for i in range(len(split)):
        height, width = (int(v) for v in split.orig_sizes[i])
        images.append({"id": i + 1, "width": width, "height": height})
        groups = ((split.boxes[i], split.labels[i], 0), (split.ignore_boxes[i], split.ignore_labels[i], 1))
        for boxes, labels, crowd in groups:
            for box, label in zip(xywh(boxes, image_scale(split, i)), labels):
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": i + 1,
                        "category_id": int(label) + 1,
                        "bbox": [float(v) for v in box],
                        "area": float(box[2] * box[3]),
                        "iscrowd": crowd,
                    }
                )
    categories = [{"id": c + 1, "name": name} for c, name in enumerate(split.classes)]
    return {"images": images, "annotations": annotations, "categories": categories}


def detection_results(split: DetectionSplit, detections: Sequence[Detections]) -> list[dict[str, Any]]:
    """Detections as COCO result entries, in the images' own pixels."""
    results = []
    for i, (boxes, scores, labels) in enumerate(detections):
        scores, labels = np.asarray(scores).reshape(-1), np.asarray(labels).reshape(-1)
        for box, score, label in zip(xywh(boxes, image_scale(split, i)), scores, labels):
            results.append(
                {
                    "image_id": i + 1,
                    "category_id": int(label) + 1,
                    "bbox": [float(v) for v in box],
                    "score": float(score),
                }
            )
    return results


def evaluate_detections(split: DetectionSplit, detections: Sequence[Detections]) -> dict[str, Any]:
    """map (AP@[.5:.95]), map50, map75, map_small/medium/large as fractions (None where COCO has no objects)."""
    if len(detections) != len(split):
        raise ValueError(f"{len(detections)} detection sets for {len(split)} images")
    from faster_coco_eval import COCO, COCOeval_faster

    def quiet(*args: Any, **kwargs: Any) -> None:
        """The evaluator narrates every step; the record carries the numbers instead."""

    gt = COCO(ground_truth(split), print_function=quiet)
    dt = gt.loadRes(detection_results(split, detections))
    evaluator = COCOeval_faster(gt, dt, iouType="bbox", print_function=quiet)
    evaluator.run()
    stats = evaluator.stats_as_dict
    metrics: dict[str, Any] = {name: (None if stats[key] < 0 else float(stats[key])) for name, key in METRICS.items()}
    metrics["images"] = len(split)
    metrics["boxes"] = split.num_boxes
    metrics["detections"] = int(sum(len(np.asarray(s).reshape(-1)) for _, s, _ in detections))
    return metrics
