"""What the workstation and the agent share: protocol constants, artifact names, tokens, result encoding."""

from __future__ import annotations

import base64
import hmac
import os
import re
from pathlib import Path
from typing import Any

PROTOCOL_VERSION = 1
DEFAULT_PORT = 8765
TOKEN_ENV = "HWBENCH_TOKEN"
MIN_TOKEN_LENGTH = 16
# Artifact formats the agent accepts: files a runtime parses as data. Formats that may hold pickled code
# (.pt2) are refused, so nothing uploaded is ever unpickled or executed.
EXTENSIONS = {".onnx": "onnx", ".tflite": "tflite"}
# Data files a job reads besides its artifact: uploadable and cached like artifacts, never measured as a model.
# An images file (.npy) is read with numpy's plain array reader (allow_pickle=False), so it cannot carry code.
DATA_EXTENSIONS = {".npy": "images"}
UPLOADABLE = {**EXTENSIONS, **DATA_EXTENSIONS}
# An artifact is named by its content: <sha256><ext>. Nothing else a client sends ever becomes a path.
ARTIFACT_NAME = re.compile(r"\A([0-9a-f]{64})(\.[a-z0-9]{1,8})\Z")


class TokenError(Exception):
    """The token could not be read, or is too weak."""


def artifact_name(digest: str, extension: str) -> str:
    """The name of an artifact on the wire and in the agent's cache."""
    name = f"{digest}{extension}"
    if parse_artifact_name(name) is None:
        raise ValueError(f"not a valid artifact name: {name!r}")
    return name


def parse_artifact_name(name: str, kinds: dict[str, str] = UPLOADABLE) -> tuple | None:
    """(sha256, extension) of a valid name of a cacheable file (by default any uploadable kind), else None."""
    match = ARTIFACT_NAME.match(name)
    if not match or match.group(2) not in kinds:
        return None
    return match.group(1), match.group(2)


def parse_model_name(name: str) -> tuple | None:
    """(sha256, extension) of a valid name of a measurable artifact (a model, never a data file), else None."""
    return parse_artifact_name(name, EXTENSIONS)


def read_token(token_file: str | None = None, token_env: str | None = None) -> str:
    """The shared token from a file (first line) or an environment variable (default HWBENCH_TOKEN)."""
    if token_file:
        path = Path(token_file).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").strip().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenError(f"cannot read token file {path}: {exc.__class__.__name__}") from None
        token, source = (lines[0].strip() if lines else ""), f"token file {path}"
    else:
        name = token_env or TOKEN_ENV
        token, source = os.environ.get(name, "").strip(), f"environment variable {name}"
        if not token:
            raise TokenError(f"environment variable {name} is not set (or empty)")
    if len(token) < MIN_TOKEN_LENGTH or not token.isascii() or not token.isprintable() or " " in token:
        raise TokenError(f"{source}: the token must be at least {MIN_TOKEN_LENGTH} printable ASCII characters")
    return token


def new_token() -> str:
    """A fresh random token (256 bits)."""
    import secrets

    return secrets.token_urlsafe(32)


def authorization(token: str) -> dict[str, str]:
    """The request header that carries the token."""
    return {"Authorization": f"Bearer {token}"}


def token_matches(header: str | None, expected: bytes) -> bool:
    """Whether an Authorization header carries the expected token (constant-time comparison)."""
    scheme, _, given = (header or "").partition(" ")
    # Headers are decoded as latin-1 by http.server, so this encoding never fails.
    candidate = given.strip().encode("latin-1", "replace")
    return hmac.compare_digest(candidate, expected) and scheme == "Bearer"


def encode_result(result: dict[str, Any]) -> dict[str, Any]:
    """A measurement record as JSON-safe data (raw samples as base64)."""
    out = dict(result)
    samples = out.pop("samples", None)
    if isinstance(samples, (bytes, bytearray)):
        out["samples_b64"] = base64.b64encode(samples).decode("ascii")
    return out


def decode_result(data: dict[str, Any]) -> dict[str, Any]:
    """The inverse of encode_result."""
    out = dict(data)
    encoded = out.pop("samples_b64", None)
    if encoded is not None:
        out["samples"] = base64.b64decode(encoded)
    return out
