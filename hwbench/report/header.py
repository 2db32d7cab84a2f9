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
    """What each mAP rests on: dataset, schedule, resolution, evaluation images, and how its uncertainty enters."""
    lines = []
    for r in detection_basis(results).itertuples():
        images = (
            f"{int(r.eval_images):,} evaluation images" if pd.notna(r.eval_images) else "an unrecorded number of images"
        )
        res = f" at {int(r.resolution)}×{int(r.resolution)} px" if pd.notna(r.resolution) else ""
        head = f"mAP@[.5:.95] of {r.networks} detector(s) on {r.dataset} ({r.schedule} schedule){res}, {images}: "
        exact = (
            "mAP is not a proportion of images, so it has no binomial interval, and its uncertainty over the "
            "evaluation images is not included (the bootstrap treats each mAP as exact)."
        )
        redrawn = (
            f"each mAP has a 95% bootstrap interval over its evaluation images (median width "
            f"{r.median_width_points:.1f} points; map_ci_low/high in results.csv), and the bootstrap redraws it from "
            "a normal law with that interval's standard error, so front, speedup and verdict intervals include it."
        )
        if r.with_interval == 0:
            lines.append(head + exact)
        elif r.with_interval == r.networks:
            lines.append(head + redrawn)
        else:
            lines.append(
                head + f"{r.with_interval} of the {r.networks} mAPs have a 95% bootstrap interval over their "
                f"evaluation images (median width {r.median_width_points:.1f} points) and are redrawn from it in the "
                f"bootstrap; the other {r.networks - r.with_interval} were stored without one and are treated as exact "
                "(their uncertainty over the evaluation images is not included)."
            )
    return lines
