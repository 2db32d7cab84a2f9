"""What the report's header states besides the sweeps: the basis of the accuracies, and disturbed results."""

from __future__ import annotations

from typing import Any

import pandas as pd

from hwbench.analysis.analyse import Analysis
from hwbench.analysis.data import detection_basis
from hwbench.analysis.noisy import disturbed_banner


def report_header(analysis: Analysis) -> dict[str, Any]:
    """What the report's header states besides the sweeps: the accuracy basis and the disturbed-results banner."""
    basis = analysis.tables.get("accuracy_basis", pd.DataFrame())
    lines = []
    for r in basis.itertuples():
        images = (
            f"{int(r.eval_images):,} evaluation images" if pd.notna(r.eval_images) else "an unrecorded number of images"
        )
        res = (
            f" at {int(r.resolution)}×{int(r.resolution)} px"
            if pd.notna(r.resolution)
            else " (resolution not recorded)"
        )
        resolve = (
            f": one image is {r.one_image_points:.2f} accuracy points, so smaller accuracy differences are not resolved"
            if pd.notna(r.eval_images)
            else ": no binomial interval can be given"
        )
        lines.append(
            f"Accuracy of {r.networks} network(s) on {r.dataset} ({r.schedule} schedule){res}, {images}{resolve}."
        )
    lines += detection_lines(analysis.tables["results"])
    return {"accuracy_basis": lines, "disturbed": disturbed_banner(analysis.tables["results"])}


def detection_lines(results: pd.DataFrame) -> list[str]:
    """What each mAP rests on: dataset, schedule, resolution, evaluation images, and the uncertainty left out."""
    lines = []
    for r in detection_basis(results).itertuples():
        images = (
            f"{int(r.eval_images):,} evaluation images" if pd.notna(r.eval_images) else "an unrecorded number of images"
        )
        res = f" at {int(r.resolution)}×{int(r.resolution)} px" if pd.notna(r.resolution) else ""
        lines.append(
            f"mAP@[.5:.95] of {r.networks} detector(s) on {r.dataset} ({r.schedule} schedule){res}, {images}: "
            "mAP is not a proportion of images, so it has no binomial interval, and its uncertainty over the "
            "evaluation images is not included (the bootstrap treats each mAP as exact)."
        )
    return lines
