"""Authentication and uploads against a real agent process: nothing runs or is stored without the token,
nothing lands outside the cache, corrupt and oversized uploads are refused, and the agent keeps serving."""

from __future__ import annotations

import hashlib
import http.client
import json
from pathlib import Path

import pytest

from tests.agent.conftest import TOKEN, Agent, job, tiny_onnx

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def raw(agent: Agent, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """One request on a fresh connection; returns (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def cache_files(agent: Agent) -> set[str]:
    """Files in the cache besides the runtime's own folder (temporary files, runtimes' caches)."""
    return {p.name for p in agent.cache.iterdir() if p.name != ".runtime"} if agent.cache.exists() else set()


BAD_AUTH = [
    {},
    {"Authorization": "Bearer wrong-token-0123456789abcdef"},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": f"Bearer {TOKEN}x"},
    {"Authorization": f"Bearer {TOKEN[:-1]}"},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer \u00e9\u00e9"},
]


@pytest.mark.remote
def test_unauthenticated_requests_get_a_bare_401_and_run_nothing(agent: Agent, tmp_path: Path) -> None:
    path, digest = tiny_onnx(tmp_path / "m.onnx")
    name = f"{digest}.onnx"
    measure = json.dumps({**job(), "artifact": name}).encode()
    for headers in BAD_AUTH:
        for method, url, body in [
            ("GET", "/v1/hello", None),
            ("GET", f"/v1/artifacts/{name}", None),
            ("PUT", f"/v1/artifacts/{name}", path.read_bytes()),
            ("POST", "/v1/measure", measure),
            ("GET", "/nope", None),
        ]:
            status, resp_headers, data = raw(agent, method, url, body, headers)
            assert (status, data) == (401, b""), (headers, method, url)
            assert "Server" not in resp_headers and "Content-Type" not in resp_headers
    assert cache_files(agent) == set()
    hello = agent.client().hello()
    assert hello["queue"]["served"] == 0 and hello["cache"]["files"] == 0
    assert "measuring" not in agent.log() and agent.alive()


@pytest.mark.remote
def test_upload_names_cannot_escape_the_cache(agent: Agent, tmp_path: Path) -> None:
    path, digest = tiny_onnx(tmp_path / "m.onnx")
    body = path.read_bytes()
    before = sorted(p for p in tmp_path.rglob("*") if "agent" not in p.parts)
    names = [
        "../../evil.onnx",
        "..%2F..%2Fevil.onnx",
        "%2e%2e/%2e%2e/evil.onnx",
        f"{digest}.onnx/../../../evil.onnx",
        f"../{digest}.onnx",
        f"{digest}.py",
        f"{digest}.pt2",
        f"{digest}.ONNX",
        f"{digest.upper()}.onnx",
        f"{digest}.onnx%00.txt",
        f"{digest}",
        f"{digest[:63]}.onnx",
        "/etc/passwd",
        "",
    ]
    for name in names:
        status, _, reply = raw(agent, "PUT", f"/v1/artifacts/{name}", body, AUTH)
        assert status in (400, 404), name
        assert b"error" in reply
    assert cache_files(agent) == set()
    assert sorted(p for p in tmp_path.rglob("*") if "agent" not in p.parts) == before
    assert agent.alive()
    # The same bytes under their real name are stored, inside the cache only.
    status, _, _ = raw(agent, "PUT", f"/v1/artifacts/{digest}.onnx", body, AUTH)
    assert status == 201 and cache_files(agent) == {f"{digest}.onnx"}


@pytest.mark.remote
def test_corrupt_uploads_are_refused(agent: Agent, tmp_path: Path) -> None:
    path, digest = tiny_onnx(tmp_path / "m.onnx")
    body = path.read_bytes()
    flipped = bytes([body[0] ^ 1]) + body[1:]
    for data in (flipped, body[:-10], body + b"x", b""):
        status, _, reply = raw(agent, "PUT", f"/v1/artifacts/{digest}.onnx", data, AUTH)
        assert status == 400 and b"hash mismatch" in reply
    assert cache_files(agent) == set()  # no partial or temporary file left behind
    client = agent.client()
    assert client.request("GET", f"/v1/artifacts/{digest}.onnx")[1]["present"] is False
    client.upload(str(path), digest, ".onnx")
    assert client.request("GET", f"/v1/artifacts/{digest}.onnx")[1]["present"] is True


@pytest.mark.remote
def test_oversized_uploads_and_requests_are_refused(agent: Agent, tmp_path: Path) -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    # The agent runs with --max-upload-mb 1: the size in the header is enough to refuse, nothing is read.
    status, headers, reply = raw(
        agent, "PUT", f"/v1/artifacts/{digest}.onnx", b"x" * 10, {**AUTH, "Content-Length": str(2 << 20)}
    )
    assert status == 413 and b"limit" in reply and headers.get("Connection") == "close"
    big = b"{" + b" " * (2 << 20) + b"}"
    status, _, reply = raw(agent, "POST", "/v1/measure", big, AUTH)
    assert status == 413
    assert cache_files(agent) == set() and agent.alive()
    assert agent.client().hello()["limits"]["max_upload_bytes"] == 1 << 20


@pytest.mark.remote
def test_a_corrupt_model_is_an_error_result_not_a_crash(agent: Agent, tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x01 this is not a protobuf model")
    digest = hashlib.sha256(bad.read_bytes()).hexdigest()
    reply = agent.client().measure(job(), str(bad), digest, ".onnx", 60, 60)
    assert reply["result"]["status"] == "error" and reply["result"]["error"]
    path, digest = tiny_onnx(tmp_path / "m.onnx")
    assert agent.client().measure(job(), str(path), digest, ".onnx", 60, 60)["result"]["status"] == "ok"
