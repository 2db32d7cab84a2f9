"""The agent's guards in isolation: head limits, connection admission, log escaping, job number checks."""

from __future__ import annotations

import io
import socket

import pytest

from hwbench.agent.guard import (
    MAX_HEADER_LINE,
    MAX_HEADERS,
    ConnectionSlots,
    HeadError,
    read_head,
    safe_log_text,
)
from hwbench.agent.validate import JobError, measure_job
from tests.agent.conftest import job


def head(data: bytes) -> tuple[bytes, bytes]:
    return read_head(io.BufferedReader(io.BytesIO(data)))


def test_read_head_takes_a_normal_head_and_stops_at_its_end() -> None:
    line, block = head(b"GET /v1/hello HTTP/1.1\r\nHost: x\r\nA: b\r\n\r\nBODY")
    assert line == b"GET /v1/hello HTTP/1.1\r\n" and block == b"Host: x\r\nA: b\r\n\r\n"
    assert head(b"") == (b"", b"")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEADER_LINE + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * (MAX_HEADERS + 1) + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + (b"X: " + b"a" * 8000 + b"\r\n") * 5 + b"\r\n", 431),
    ],
)
def test_read_head_refuses_over_the_limits(data: bytes, code: int) -> None:
    with pytest.raises(HeadError) as err:
        head(data)
    assert err.value.code == code


def test_slots_evict_the_oldest_unauthenticated_connection_and_never_an_authenticated_one() -> None:
    pairs = [socket.socketpair() for _ in range(5)]
    socks = [a for a, _ in pairs]
    try:
        slots = ConnectionSlots(limit=3, reserved=1)  # at most 2 unauthenticated
        assert slots.admit(socks[0]) and slots.admit(socks[1])
        assert slots.admit(socks[2])  # evicts socks[0], the oldest unauthenticated
        assert pairs[0][1].recv(1) == b""  # its peer sees the hang-up
        assert slots.state() == {"connections": 2, "unauthenticated": 2, "evicted": 1}
        assert slots.authenticated(socks[1]) and slots.authenticated(socks[2])
        assert slots.admit(socks[3])  # room for one more, unauthenticated
        assert slots.authenticated(socks[3])
        assert not slots.admit(socks[4])  # every slot holds a client with the token: refused
        assert not slots.authenticated(socks[0])  # an evicted connection cannot come back
        slots.release(socks[1])
        assert slots.admit(socks[4])
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_log_text_is_escaped_and_the_token_masked() -> None:
    token = "s3cret-token-0123456789"
    text = safe_log_text(f"GET /x?\x1b[2K\r\n\x85\u2028\\ {token}", token)
    assert text == "GET /x?\\x1b[2K\\x0d\\x0a\\x85\\u2028\\\\ <token>"
    assert len(safe_log_text("a" * 1000)) == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"threads": 10**400}, "threads"),
        ({"threads": 9}, "threads"),
        ({"threads": 2.5}, "threads"),
        ({"threads": True}, "threads"),
        ({"seed": 10**400}, "seed"),
        ({"seed": -1}, "seed"),
        ({"queue_timeout_s": 10**400}, "queue_timeout_s"),
        ({"queue_timeout_s": float("inf")}, "queue_timeout_s"),
        ({"protocol": {"max_runs": 10**400}}, "protocol.max_runs"),
        ({"protocol": {"max_seconds": float("nan")}}, "protocol.max_seconds"),
        ({"protocol": {"confidence": 1.5}}, "protocol.confidence"),
        ({"options": {"io_binding": [1]}}, "options.io_binding"),
        ({"options": {"nope": 1}}, "options.nope"),
        ({"runner": 10**400}, "runner"),
    ],
)
def test_job_numbers_out_of_range_are_job_errors_naming_the_field(change: dict, field: str) -> None:
    data = {**job(), "artifact": "a" * 64 + ".onnx", **change}
    with pytest.raises(JobError, match=f"^{field}"):
        measure_job(data, max_threads=8)


def test_a_partial_protocol_is_completed_with_the_defaults() -> None:
    parsed, _, _ = measure_job({**job(), "protocol": {"max_runs": 7}, "artifact": "a" * 64 + ".onnx"}, 8)
    assert parsed["protocol"]["max_runs"] == 7 and parsed["protocol"]["warmup_seconds"] >= 0
    assert measure_job({**job(), "threads": 8, "artifact": "a" * 64 + ".onnx"}, 8)[0]["threads"] == 8
