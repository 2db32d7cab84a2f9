"""Downloads happen only through fetch(), only when asked; checksums are verified and archives extracted safely."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from hwbench.accuracy.datasets.download import extract_tar, fetch
from hwbench.errors import HwbenchError


def _archive(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "a.tar.gz"
    path.parent.mkdir()
    with tarfile.open(path, "w:gz") as tar:
        data = b"hello"
        info = tarfile.TarInfo("folder/file.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def test_fetch_verifies_the_checksum_and_extracts(tmp_path: Path) -> None:
    src = _archive(tmp_path)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    dest = fetch(["file:///nonexistent/a.tar.gz", src.as_uri()], tmp_path / "out" / "a.tar.gz", md5)
    assert dest.read_bytes() == src.read_bytes()
    extract_tar(dest, tmp_path / "out")
    assert (tmp_path / "out" / "folder" / "file.txt").read_bytes() == b"hello"
    assert fetch(["file:///nonexistent"], dest, md5) == dest  # a good copy is kept, nothing fetched


def test_fetch_refuses_a_wrong_checksum(tmp_path: Path) -> None:
    src = _archive(tmp_path)
    with pytest.raises(HwbenchError, match="does not match the published"):
        fetch([src.as_uri()], tmp_path / "out" / "a.tar.gz", "0" * 32)
    assert not list((tmp_path / "out").iterdir())  # no partial file left


def test_extract_refuses_paths_outside(tmp_path: Path) -> None:
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises((HwbenchError, tarfile.TarError)):
        extract_tar(path, tmp_path / "into")
    assert not (tmp_path / "escape.txt").exists()
