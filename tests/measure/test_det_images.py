"""The images file of detection timing is untrusted input: only a plain uint8 N×H×W×C .npy within bounds is read,
and a pickle inside a .npy is refused without being unpickled."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hwbench.measure.det_images import MAX_SIDE, ImagesError, normalise, read_images


class Touch:
    """Unpickling this creates a file: the test's witness that nothing was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (open, (str(self.path), "w"))


def save(path: Path, array: np.ndarray, allow_pickle: bool = False) -> Path:
    np.save(path, array, allow_pickle=allow_pickle)
    return path


def test_reads_plain_uint8_images(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 256, (5, 8, 6, 3), dtype=np.uint8)
    got = read_images(save(tmp_path / "a.npy", images))
    assert got.dtype == np.uint8 and np.array_equal(got, images)
    gray = read_images(save(tmp_path / "g.npy", images[..., :1]))
    assert gray.shape == (5, 8, 6, 1)


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros((2, 8, 8, 3), np.float32), r"expected uint8 N×H×W×C, got float32"),
        (np.zeros((8, 8, 3), np.uint8), r"got uint8 with shape \(8, 8, 3\)"),
        (np.zeros((1, 2, 8, 8, 3), np.uint8), r"shape \(1, 2, 8, 8, 3\)"),
        (np.zeros((2, 8, 8, 2), np.uint8), r"2 channels; expected 1 or 3"),
        (np.zeros((2, 8, 8, 4), np.uint8), r"4 channels"),
        (np.zeros((0, 8, 8, 3), np.uint8), r"out of bounds"),
        (np.zeros((1, MAX_SIDE + 1, 1, 3), np.uint8), r"out of bounds"),
        (np.zeros((1, 1, 0, 3), np.uint8), r"out of bounds"),
    ],
)
def test_refuses_what_is_not_images(tmp_path: Path, array: np.ndarray, match: str) -> None:
    with pytest.raises(ImagesError, match=r"images file x\.npy: .*" + match):
        read_images(save(tmp_path / "x.npy", array))


def test_a_pickled_object_array_is_refused_unread(tmp_path: Path) -> None:
    witness = tmp_path / "unpickled"
    path = save(tmp_path / "x.npy", np.array([Touch(witness)], dtype=object), allow_pickle=True)
    assert not witness.exists()  # pickling does not call it
    with pytest.raises(ImagesError, match=r"images file x\.npy: unreadable \(.*(Python objects|allow_pickle)"):
        read_images(path)
    assert not witness.exists()


def test_a_zip_or_a_raw_pickle_is_not_an_npy(tmp_path: Path) -> None:
    import pickle

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("images.npy", b"")
    (tmp_path / "z.npy").write_bytes(buffer.getvalue())
    (tmp_path / "p.npy").write_bytes(pickle.dumps([1, 2, 3]))
    for name in ("z.npy", "p.npy"):
        with pytest.raises(ImagesError, match=rf"images file {name}: not a \.npy array file"):
            read_images(tmp_path / name)


def test_a_header_that_promises_more_than_the_file_holds(tmp_path: Path) -> None:
    path = save(tmp_path / "x.npy", np.zeros((1, 64, 64, 3), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])  # the header says 12,288 bytes of pixels; fewer are there
    with pytest.raises(ImagesError, match=r"images file x\.npy: unreadable"):
        read_images(path)


def test_normalise_matches_the_training_formula() -> None:
    images = np.array([[[[0, 128, 255]]]], np.uint8)  # 1 image, 1×1, 3 channels
    got = normalise(images, [0.5, 0.5, 0.5], [0.25, 0.5, 1.0])
    expected = (np.array([0, 128, 255], np.float32) / 255 - 0.5) / np.array([0.25, 0.5, 1.0], np.float32)
    assert got.shape == (1, 3, 1, 1) and got.dtype == np.float32
    np.testing.assert_allclose(got.reshape(-1), expected, rtol=1e-6)
    with pytest.raises(ImagesError, match="mean/std have 1/1 values for images of 3 channels"):
        normalise(images, [0.5], [0.25])
