"""The workstation's side of the agent protocol (stdlib http.client): timeouts, retries with backoff, uploads."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from hwbench.agent.wire import PROTOCOL_VERSION, artifact_name, authorization, decode_result

# Why a board's record has no backbone timing when its agent refused the field (an hwbench before it).
OLD_AGENT_BACKBONE = "the board's agent cannot time a backbone alone (its hwbench is older): update hwbench there"


class AgentError(Exception):
    """The agent answered, but not with what was asked (rejected request, protocol mismatch)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AgentAuthError(AgentError):
    """The agent refused the token."""


class AgentUnreachable(AgentError):
    """No answer from the agent after every retry (board off, agent killed, network cut)."""


class _NoAnswer(Exception):
    """Connected, but no reply in time."""


class AgentClient:
    """One persistent connection to one agent; connection failures are retried with exponential backoff."""

    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        *,
        connect_timeout_s: float = 10.0,
        retries: int = 4,
        backoff_s: float = 1.0,
        backoff_max_s: float = 30.0,
        keepalive_s: float = 10.0,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self.host, self.port = host, port
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # IPv6 literals in brackets
        self._headers = authorization(token)
        self.connect_timeout_s = connect_timeout_s
        self.retries, self.backoff_s, self.backoff_max_s = retries, backoff_s, backoff_max_s
        self.keepalive_s = keepalive_s
        self._sleep = sleep
        self._conn: http.client.HTTPConnection | None = None
        self.uploaded: list[tuple[str, int, float]] = []  # (artifact, bytes, seconds) sent by this client

    # -- transport ------------------------------------------------------------------------------------
    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout_s)
            conn.connect()
            _keepalive(conn.sock, self.keepalive_s)
            self._conn = conn
        assert self._conn.sock is not None
        self._conn.sock.settimeout(timeout)
        return self._conn

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _once(self, method: str, path: str, body: Any, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
        conn = self._connection(timeout)
        if hasattr(body, "seek"):
            body.seek(0)
        try:
            conn.request(method, path, body=body, headers={**self._headers, **headers})
            response = conn.getresponse()
            data = response.read()
        except TimeoutError:
            raise _NoAnswer(f"no answer within {timeout:.0f} s") from None
        if response.will_close:
            self.close()
        return response.status, data

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 60.0
    ) -> tuple[int, dict[str, Any]]:
        """Send a request, retrying connection failures with backoff; return (status, JSON reply)."""
        last: Exception | None = None
        attempt, fresh_retry = 0, True
        while attempt <= self.retries:
            reused = self._conn is not None
            try:
                status, raw = self._once(method, path, body, headers or {}, timeout)
            except _NoAnswer as exc:
                # Connected, then silence: the board hung or the network dropped; retrying would wait as long again.
                self.close()
                raise AgentUnreachable(f"{self.address}: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                last = exc
                if reused and fresh_retry:  # the agent closed an idle keep-alive connection: reconnect at once
                    fresh_retry = False
                    continue
                attempt += 1
                if attempt <= self.retries:
                    self._sleep(min(self.backoff_s * 2 ** (attempt - 1), self.backoff_max_s))
                continue
            if status == 401:
                raise AgentAuthError(f"{self.address}: the agent refused the token (401)", 401)
            try:
                reply = json.loads(raw) if raw else {}
            except ValueError:
                raise AgentError(f"{self.address}: not an hwbench agent (unreadable reply, HTTP {status})") from None
            return status, reply
        what = f"{type(last).__name__}: {last}".strip().rstrip(":")
        tries = f"{self.retries + 1} attempt{'s' if self.retries else ''}"
        raise AgentUnreachable(f"{self.address}: unreachable after {tries} ({what})")

    # -- protocol -------------------------------------------------------------------------------------
    def hello(self) -> dict[str, Any]:
        """The board's facts (checks the protocol version)."""
        status, reply = self.request("GET", "/v1/hello", timeout=max(self.connect_timeout_s, 30.0))
        if status != 200:
            raise AgentError(f"{self.address}: hello failed (HTTP {status}: {reply.get('error')})", status)
        if reply.get("protocol") != PROTOCOL_VERSION:
            raise AgentError(
                f"{self.address}: the agent speaks protocol {reply.get('protocol')}, this hwbench speaks "
                f"{PROTOCOL_VERSION}; install the same hwbench version on the board"
            )
        return reply

    def upload(self, path: str, digest: str, extension: str) -> None:
        """Send an artifact's bytes (the agent checks them against the hash in the name)."""
        name = artifact_name(digest, extension)
        size = os.path.getsize(path)
        t0 = time.monotonic()
        with open(path, "rb") as body:
            # 1 MB/s is a slow board's Wi-Fi; allow at least that long.
            status, reply = self.request(
                "PUT",
                f"/v1/artifacts/{name}",
                body=body,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                timeout=60.0 + size / 1e6,
            )
        if status != 201:
            raise AgentError(f"upload of {name} refused (HTTP {status}): {reply.get('error')}", status)
        self.uploaded.append((name, size, time.monotonic() - t0))

    def measure(
        self, job: dict[str, Any], path: str, digest: str, extension: str, timeout: float, queue_timeout_s: float
    ) -> dict[str, Any]:
        """Measure an artifact on the board, uploading it first if the board lacks it. Returns the reply."""
        name = artifact_name(digest, extension)
        body = {k: v for k, v in job.items() if k not in ("path",)}
        body.update(artifact=name, queue_timeout_s=queue_timeout_s)
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        for _ in range(3):  # upload, then measure; a second miss means the cache evicted it meanwhile
            status, reply = self.request("POST", "/v1/measure", payload, headers, timeout + queue_timeout_s + 30)
            if status == 404 and reply.get("missing") == name:
                self.upload(path, digest, extension)
                continue
            if status != 200:
                raise AgentError(f"measurement refused (HTTP {status}): {reply.get('error')}", status)
            reply["result"] = decode_result(reply["result"])
            return reply
        raise AgentError(f"{name}: the agent kept losing the artifact (is its cache too small?)")

    def measure_detection(
        self,
        job: dict[str, Any],
        artifact: tuple[str, str, str],
        images: tuple[str, str],
        timeout: float,
        queue_timeout_s: float,
        backbone: tuple[str, str, str] | None = None,
    ) -> dict[str, Any]:
        """Time a detector in parts on the board (POST /v1/measure-detection), and its `backbone` artifact alone
        when given, uploading the artifacts (path, sha256, extension) and the images file (path, sha256 of a .npy)
        first where the board lacks them."""
        name = artifact_name(artifact[1], artifact[2])
        files = {name: artifact, artifact_name(images[1], ".npy"): (images[0], images[1], ".npy")}
        skip = ("artifact", "images", "runner_options", "kind", "backbone", "backbone_error")
        body = {k: v for k, v in job.items() if k not in skip}
        body.update(artifact=name, images=list(files)[1], options=job.get("runner_options", {}))
        body.update(queue_timeout_s=queue_timeout_s)
        if backbone is not None:
            body["backbone"] = artifact_name(backbone[1], backbone[2])
            files[body["backbone"]] = backbone
        headers = {"Content-Type": "application/json"}
        old_agent = False
        # Each file may be missing once, and once more if the cache evicted it meanwhile; one more for an old agent.
        for _ in range(2 * len(files) + 2):
            payload = json.dumps(body).encode()
            status, reply = self.request(
                "POST", "/v1/measure-detection", payload, headers, timeout + queue_timeout_s + 30
            )
            missing = reply.get("missing")
            if status == 404 and missing in files:
                self.upload(*files[missing])
                continue
            if status == 400 and "backbone" in body and reply.get("error") == "unknown field 'backbone'":
                # An agent older than backbone timing: the parts alone, and the record says why it has no backbone.
                files.pop(body.pop("backbone"), None)
                old_agent = True
                continue
            if status == 404:
                raise AgentError(
                    f"{self.address}: the agent has no detection endpoint (HTTP 404: {reply.get('error')}); "
                    "install the same hwbench version on the board",
                    status,
                )
            if status != 200:
                raise AgentError(f"detection timing refused (HTTP {status}): {reply.get('error')}", status)
            reply["result"] = decode_result(reply["result"])
            if old_agent and reply["result"].get("status") == "ok":
                reply["result"]["backbone"] = {"error": f"{self.address}: {OLD_AGENT_BACKBONE}"}
            return reply
        raise AgentError(f"{name}: the agent kept losing the artifact or its images (is its cache too small?)")


def _keepalive(sock: socket.socket | None, seconds: float) -> None:
    """TCP keepalive, so a board that vanishes mid-measurement (network cut) is noticed in ~3x `seconds`."""
    if sock is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        idle = max(1, int(seconds))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, idle)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
