"""Bootstrap fronts with redrawn accuracies: fewer evaluation images, wider replicates."""

import numpy as np
import pandas as pd

from hwbench.analysis.data import ACCURACY
from hwbench.analysis.stepfront import target_fronts


def _frame(eval_images: float) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    top1 = rng.uniform(0.85, 0.98, 20)
    return pd.DataFrame(
        {
            "target": "t",
            "group": "a",
            "top1": top1,
            "median_ms": 1 + 10 * (top1 - 0.85) + rng.normal(0, 0.1, 20),
            "eval_images": eval_images,
        }
    )


def test_accuracy_noise_widens_the_bootstrap_of_the_front_top() -> None:
    """Fewer evaluation images → a wider spread of the replicates' best-of-m latency at high accuracy."""
    spreads = []
    for n in (np.nan, 100000, 200):
        data = _frame(n)
        noise = np.repeat(data["median_ms"].to_numpy()[:, None], 4, axis=1)
        front = target_fronts(data, ACCURACY, noise, n_boot=400, seed=0)["t"].blocks["a"]
        spreads.append(np.nanstd(np.log(front.boot[:, front.estimable]), axis=0).mean())
    assert spreads[0] == spreads[1] or abs(spreads[0] - spreads[1]) < 0.2 * spreads[0]
    assert spreads[2] > 1.25 * spreads[0]  # measured 1.35× on best-of-m curves (stepfront)
