"""Explicit downloads (`--download` only): standard URLs, MD5 checksums, atomic writes, safe extraction."""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

from hwbench.errors import HwbenchError


def md5_file(path: Path) -> str:
    """MD5 of a file (the checksum the dataset authors publish; integrity, not security)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(urls: list[str], dest: Path, md5: str, timeout: float = 60.0) -> Path:
    """Download `dest` from the first URL that works and matches `md5`; keep an existing good copy."""
    if dest.is_file() and md5_file(dest) == md5:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    errors = []
    for url in urls:
        print(f"downloading {url} → {dest}", file=sys.stderr, flush=True)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
        except OSError as exc:
            errors.append(f"{url}: {exc}")
            continue
        got = md5_file(part)
        if got != md5:
            errors.append(f"{url}: checksum {got} does not match the published {md5}")
            continue
        os.replace(part, dest)
        return dest
    part.unlink(missing_ok=True)
    raise HwbenchError(f"could not download {dest.name}: " + "; ".join(errors))


def extract_tar(archive: Path, into: Path) -> None:
    """Extract a tar archive, refusing members that would land outside `into`."""
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
            return
        root = into.resolve()
        for member in tar.getmembers():  # Python < 3.11.4: check paths by hand
            target = (into / member.name).resolve()
            if root not in (target, *target.parents) or member.issym() or member.islnk():
                raise HwbenchError(f"{archive}: unsafe member {member.name!r}")
        tar.extractall(into)
