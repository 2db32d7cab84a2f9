"""Per-image latencies: measurement noise separated from image-to-image variation (issue 19, finding 12)."""

import numpy as np
import pytest

from hwbench.analysis.tokens import separate_image_variation
from hwbench.measure.per_input import time_per_input


def _summary(rng: np.random.Generator, images: int, rounds: int, image_sd: float, noise_sd: float) -> dict:
    """A per-image summary shaped like time_per_input's, from a known truth."""
    truth = 5.0 + image_sd * rng.normal(size=images)
    timings = truth[None, :] + noise_sd * rng.normal(size=(rounds, images))
    return {
        "image_median_ms": np.median(timings, axis=0).tolist(),
        "round_sd_ms": float(np.median(np.std(timings, axis=0, ddof=1))),
        "rounds": rounds,
    }


@pytest.mark.parametrize(("image_sd", "noise_sd"), [(0.0, 0.3), (0.2, 0.3), (0.5, 0.1)])
def test_image_to_image_sd_is_recovered_without_the_noise(image_sd: float, noise_sd: float) -> None:
    rng = np.random.default_rng(int(10 * image_sd + 100 * noise_sd))
    runs = [separate_image_variation(_summary(rng, 200, 5, image_sd, noise_sd)) for _ in range(100)]
    noise = np.median([n for n, _ in runs])
    sd = np.median([s for _, s in runs])
    assert noise == pytest.approx(1.2533 * noise_sd / np.sqrt(5), rel=0.25)  # small-sample median of 5 runs
    assert sd == pytest.approx(image_sd, abs=0.05)
    raw = np.median([np.std(_summary(rng, 200, 5, image_sd, noise_sd)["image_median_ms"]) for _ in range(20)])
    if image_sd == 0.0:
        assert raw > 0.1  # the raw spread of per-image medians is pure measurement noise here


def test_time_per_input_reports_the_round_spread_and_old_summaries_give_none() -> None:
    images = np.zeros((3, 1, 2, 2), dtype=np.float32)
    out = time_per_input(lambda batch: lambda: None, (1, 1, 2, 2), images, rounds=3)
    assert out["round_sd_ms"] is not None and out["round_sd_ms"] >= 0
    assert separate_image_variation({"image_median_ms": [1.0, 2.0], "rounds": 3}) == (None, None)
