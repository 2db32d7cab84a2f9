"""Malformed, truncated, stalled and concurrent requests against a real agent process: it never crashes,
keeps serving, and measures one network at a time with queue time reported apart from device time."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hwbench.agent.client import AgentClient, AgentUnreachable
from tests.agent.conftest import TOKEN, Agent, job, tiny_onnx

AUTH = f"Authorization: Bearer {TOKEN}\r\n".encode()


def send_raw(agent: Agent, data: bytes, wait: float = 5.0) -> bytes:
    """Send bytes on a raw socket, half-close, and return whatever comes back before the agent closes."""
    with socket.create_connection(("127.0.0.1", agent.port), timeout=wait) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def post(body: bytes, length: int | None = None, extra: bytes = b"") -> bytes:
    n = len(body) if length is None else length
    return b"POST /v1/measure HTTP/1.1\r\nHost: x\r\n" + AUTH + extra + f"Content-Length: {n}\r\n\r\n".encode() + body


MALFORMED = {
    "garbage": (b"\x00\xff\xfe garbage \x01\x02\r\n\r\n", b""),
    "binary junk": (bytes(range(256)) * 64, b""),
    "no method": (b"\r\n\r\n", b""),
    "bad request line": (b"GET\r\n\r\n", b""),
    "bad version": (b"GET /v1/hello HTTP/9\r\n\r\n", b""),
    "http/0.9": (b"GET /v1/hello\r\n", b""),
    "huge header line": (b"GET /v1/hello HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", b"431"),
    "too many headers": (b"GET /v1/hello HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", b"431"),
    "bad json": (post(b"{not json"), b"400"),
    "json array": (post(b"[1, 2]"), b"400"),
    "json not utf-8": (post(b'{"a": "\xff"}'), b"400"),
    "truncated body": (post(b'{"artifact": ', length=500), b"400"),
    "negative length": (post(b"{}", length=-1), b"400"),
    "chunked": (post(b"", extra=b"Transfer-Encoding: chunked\r\n"), b"411"),
    "missing length": (b"PUT /v1/artifacts/" + b"a" * 64 + b".onnx HTTP/1.1\r\n" + AUTH + b"\r\n", b"411"),
    "unknown field": (post(json.dumps({**job(), "artifact": "a" * 64 + ".onnx", "x": 1}).encode()), b"400"),
    "bad threads": (post(json.dumps({**job(), "threads": "two", "artifact": "a" * 64 + ".onnx"}).encode()), b"400"),
    "zero threads": (post(json.dumps({**job(), "threads": 0, "artifact": "a" * 64 + ".onnx"}).encode()), b"400"),
    "huge runs": (
        post(json.dumps({**job({"max_runs": 10**12}), "artifact": "a" * 64 + ".onnx"}).encode()),
        b"400",
    ),
    "nan seconds": (
        post(
            json.dumps({**job(), "artifact": "a" * 64 + ".onnx"})
            .replace('"max_seconds": 1.0', '"max_seconds": NaN')
            .encode()
        ),
        b"400",
    ),
    "unknown runner": (post(json.dumps({**job(), "runner": "nope", "artifact": "a" * 64 + ".onnx"}).encode()), b"400"),
    "wrong format": (post(json.dumps({**job(), "artifact": "a" * 64 + ".tflite"}).encode()), b"400"),
    "pickle format": (post(json.dumps({**job(), "runner": "torch", "artifact": "a" * 64 + ".pt2"}).encode()), b"400"),
    "not cached": (post(json.dumps({**job(), "artifact": "a" * 64 + ".onnx"}).encode()), b"404"),
    "unknown method": (b"DELETE /v1/hello HTTP/1.1\r\n" + AUTH + b"\r\n", b"501"),
}


@pytest.mark.remote
def test_malformed_requests_never_crash_the_agent(agent: Agent) -> None:
    for label, (data, expected) in MALFORMED.items():
        reply = send_raw(agent, data)
        assert reply.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1 " + expected) if expected else True, (label, reply)
        assert agent.alive(), label
        assert agent.client().hello()["protocol"] == 1, label
    assert "Traceback" not in agent.log()


@pytest.mark.remote
def test_a_stalled_request_times_out_and_others_are_served_meanwhile(agent: Agent) -> None:
    with socket.create_connection(("127.0.0.1", agent.port), timeout=10) as stalled:
        stalled.sendall(post(b'{"artifact": ', length=500))  # then nothing: the agent runs with --request-timeout 2
        t0 = time.monotonic()
        assert agent.client().hello()["protocol"] == 1  # served while the other request hangs
        assert stalled.recv(100) == b""  # closed by the agent
        assert 1.5 < time.monotonic() - t0 < 8
    assert agent.alive()


@pytest.mark.remote
def test_idle_connections_make_room_and_authenticated_ones_are_never_evicted(tmp_path: Path) -> None:
    import http.client

    agent = Agent(tmp_path / "a", ("--max-connections", "2", "--request-timeout", "20")).start()
    try:
        # Connections that never send a token give way to a newcomer: the client with the token gets in.
        idle = [socket.create_connection(("127.0.0.1", agent.port)) for _ in range(2)]
        assert agent.client(connect_timeout_s=2).hello()["protocol"] == 1
        for s in idle:
            s.close()
        # Two authenticated keep-alive connections fill every slot: a third connection is refused, not queued.
        kept = [http.client.HTTPConnection("127.0.0.1", agent.port, timeout=5) for _ in range(2)]
        for conn in kept:
            conn.request("GET", "/v1/hello", headers={"Authorization": f"Bearer {TOKEN}"})
            assert conn.getresponse().read() and conn.sock is not None
        with pytest.raises(AgentUnreachable):
            agent.client(connect_timeout_s=2).hello()
        for conn in kept:
            conn.close()
        time.sleep(0.3)
        assert agent.client().hello()["connections"]["evicted"] >= 1
    finally:
        agent.kill()


@pytest.mark.remote
def test_measurement_record_from_the_agent(agent: Agent, tmp_path: Path) -> None:
    path, digest = tiny_onnx(tmp_path / "m.onnx")
    client = agent.client()
    reply = client.measure(job(), str(path), digest, ".onnx", 60, 60)
    result = reply["result"]
    assert result["status"] == "ok", result.get("error")
    assert len(np.frombuffer(result["samples"], "<f4")) == result["n_runs"] >= 5
    assert result["provenance"]["versions"]["onnxruntime"]
    assert "temperatures_c" in result["info"]["conditions_before"] and "conditions_after" in result["info"]
    assert 0 <= reply["queue_seconds"] < 1 and reply["agent_seconds"] >= result["device_seconds"]
    assert [u[0] for u in client.uploaded] == [f"{digest}.onnx"]
    client.measure(job(), str(path), digest, ".onnx", 60, 60)
    assert len(client.uploaded) == 1  # uploaded once, measured twice


@pytest.mark.remote
def test_two_clients_at_once_are_measured_one_after_the_other(agent: Agent, tmp_path: Path) -> None:
    path, digest = tiny_onnx(tmp_path / "m.onnx")
    agent.client().upload(str(path), digest, ".onnx")
    slow = job({"min_seconds": 0.8, "max_seconds": 0.8, "max_runs": 10**6, "rel_ci": 1e-6})
    replies: list[dict] = []

    def measure() -> None:
        client = AgentClient("127.0.0.1", agent.port, TOKEN, retries=0)
        replies.append(client.measure(slow, str(path), digest, ".onnx", 60, 60))

    threads = [threading.Thread(target=measure) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(replies) == 2 and all(r["result"]["status"] == "ok" for r in replies)
    first, second = sorted(replies, key=lambda r: r["queue_seconds"])
    assert first["result"]["finished_at"] <= second["result"]["started_at"]  # never overlapping
    assert first["queue_seconds"] < 0.5 and second["queue_seconds"] > 0.6
    # Device time is the timed loop only; the wait is reported apart from it.
    assert second["result"]["device_seconds"] < second["agent_seconds"] - second["queue_seconds"] + 0.05


@pytest.mark.remote
def test_client_retries_with_backoff_then_reports_unreachable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    delays: list[float] = []
    client = AgentClient("127.0.0.1", port, TOKEN, retries=3, backoff_s=0.5, sleep=delays.append)
    with pytest.raises(AgentUnreachable, match="unreachable after 4 attempts.*Connection refused"):
        client.hello()
    assert delays == [0.5, 1.0, 2.0]


@pytest.mark.remote
def test_client_survives_an_agent_restart(agent: Agent, tmp_path: Path) -> None:
    path, digest = tiny_onnx(tmp_path / "m.onnx")
    client = agent.client(retries=5, backoff_s=0.2)
    assert client.measure(job(), str(path), digest, ".onnx", 60, 60)["result"]["status"] == "ok"
    agent.restart()
    # Same port, same cache: the reused connection is dead, the client reconnects, nothing is re-uploaded.
    assert client.measure(job(), str(path), digest, ".onnx", 60, 60)["result"]["status"] == "ok"
    assert len(client.uploaded) == 1
