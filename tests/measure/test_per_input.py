"""Per-image latency: every image is timed in every round, medians per image, inputs shaped as the artifact takes."""

from __future__ import annotations

import numpy as np
import pytest

from hwbench.measure.per_input import as_input, time_per_input


class FakeRuntime:
    """A 'model' whose run takes (1 + first pixel) ms on a fake clock."""

    def __init__(self) -> None:
        self.now = 0
        self.calls: list[float] = []

    def clock(self) -> int:
        return self.now

    def prepare(self, inputs: list[np.ndarray]):
        (x,) = inputs
        assert x.shape[0] == 1 and x.dtype == np.float32

        def run() -> None:
            self.calls.append(float(x.flat[0]))
            self.now += int((1 + float(x.flat[0])) * 1e6)

        return run


def test_each_images_median_and_the_distribution_over_images() -> None:
    images = np.zeros((5, 3, 4, 4), dtype=np.float32)
    images[:, 0, 0, 0] = [0, 1, 2, 3, 4]  # image i takes 1 + i ms
    rt = FakeRuntime()
    out = time_per_input(rt.prepare, (1, 3, 4, 4), images, rounds=3, max_seconds=60, clock=rt.clock)
    assert out["count"] == 5 and out["rounds"] == 3
    assert out["image_median_ms"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert out["median_ms"] == 3.0 and out["min_ms"] == 1.0 and out["max_ms"] == 5.0
    assert out["p10_ms"] == pytest.approx(1.4) and out["p90_ms"] == pytest.approx(4.6)
    assert len(rt.calls) == 5 * (1 + 3)  # one warm-up run of each image, then every image in every round
    assert sorted(rt.calls[5:10]) == [0, 1, 2, 3, 4] and rt.calls[5:10] != rt.calls[10:15]  # shuffled rounds


def test_the_time_cap_stops_after_a_complete_round() -> None:
    images = np.ones((4, 1, 2, 2), dtype=np.float32)  # 2 ms each
    rt = FakeRuntime()
    out = time_per_input(rt.prepare, (1, 1, 2, 2), images, rounds=50, max_seconds=0.02, clock=rt.clock)
    assert out["rounds"] == 2 and out["image_median_ms"] == [2.0] * 4  # 8 ms warm-up + 8 ms per round


def test_inputs_take_the_artifacts_layout_or_fail_naming_both_shapes() -> None:
    image = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    assert as_input(image, (1, 2, 3, 4)).shape == (1, 2, 3, 4)
    nhwc = as_input(image, (1, 3, 4, 2))
    assert nhwc.shape == (1, 3, 4, 2) and nhwc[0, 1, 2, 1] == image[1, 1, 2]
    with pytest.raises(ValueError, match=r"takes \(1, 3, 8, 8\); the per-image inputs are 2×3×4"):
        as_input(image, (1, 3, 8, 8))
    with pytest.raises(ValueError, match="non-empty N×C×H×W"):
        time_per_input(FakeRuntime().prepare, (1, 2, 3, 4), image)


class SharedBufferRuntime(FakeRuntime):
    """Binds inputs into one buffer, as TFLite's interpreter and OpenVINO's request do: the call runs whatever
    was bound last."""

    def prepare(self, inputs: list[np.ndarray]):
        (self.buffer,) = inputs

        def run() -> None:
            x = self.buffer
            self.calls.append(float(x.flat[0]))
            self.now += int((1 + float(x.flat[0])) * 1e6)

        return run


def test_each_image_is_timed_on_its_own_input_when_the_runtime_shares_one_buffer() -> None:
    images = np.zeros((4, 1, 2, 2), dtype=np.float32)
    images[:, 0, 0, 0] = [0, 1, 2, 3]
    rt = SharedBufferRuntime()
    out = time_per_input(rt.prepare, (1, 1, 2, 2), images, rounds=3, max_seconds=60, clock=rt.clock)
    assert out["image_median_ms"] == [1.0, 2.0, 3.0, 4.0]
    assert sorted(rt.calls) == sorted([0.0, 1.0, 2.0, 3.0] * 4)
