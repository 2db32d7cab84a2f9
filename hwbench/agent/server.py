"""The agent's HTTP server: authenticated, bounded, one measurement at a time (stdlib only).

Endpoints (every one needs `Authorization: Bearer <token>`; anything else gets a bare 401):
  GET  /v1/hello                     board facts, runtimes, limits, cache and queue state
  GET  /v1/artifacts/<sha256><ext>   whether the artifact is cached
  PUT  /v1/artifacts/<sha256><ext>   upload raw bytes; stored only if they hash to the name
  POST /v1/measure                   JSON job; waits its turn, measures, returns the record
  POST /v1/measure-detection         JSON job naming a detector artifact and an images file (<sha256>.npy, uploaded
                                     like an artifact); waits its turn, times graph / NMS / end to end on the first
                                     `count` images, detects on all of them, returns timings and packed detections;
                                     a `backbone` artifact it names is then timed image by image on those images
(A job whose artifact, backbone or images file is not cached gets 404 with `missing`: the client uploads it and
asks again.)
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import sys
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from hwbench.agent.cache import ArtifactCache, UploadError
from hwbench.agent.guard import ConnectionSlots, safe_log_text
from hwbench.agent.handler import GuardedHandler
from hwbench.agent.scheduler import MeasureQueue, QueueTimeout
from hwbench.agent.validate import JobError, measure_job
from hwbench.agent.validate_det import detection_job
from hwbench.agent.wire import PROTOCOL_VERSION, UPLOADABLE, encode_result, parse_artifact_name, token_matches
from hwbench.agent.worker import MeasureWorker
from hwbench.runners.local import job_timeout


@dataclass(frozen=True)
class AgentConfig:
    """How the agent runs (command-line options)."""

    token: str
    cache_dir: str
    cache_max_bytes: int = 1 << 30
    cache_max_files: int = 500
    max_upload_bytes: int = 256 << 20
    max_request_bytes: int = 1 << 20
    request_timeout_s: float = 10.0
    max_connections: int = 16
    # Connections only a client with the token can use: unauthenticated ones never hold more than the rest.
    reserved_connections: int = 4
    max_threads: int = os.cpu_count() or 1
    quiet: bool = False


class AgentServer(ThreadingHTTPServer):
    """A threading HTTP server that admits connections through ConnectionSlots (IPv4 or IPv6)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], config: AgentConfig) -> None:
        from hwbench.agent.board import delegates

        self.config = config
        self.token = config.token.encode("latin-1")
        self.token_text = config.token
        self.quiet = config.quiet
        self.request_timeout_s = config.request_timeout_s
        self.cache = ArtifactCache(config.cache_dir, config.cache_max_bytes, config.cache_max_files)
        # Library lookups spawn ldconfig/gcc and write temporary files: once, now, not on every handshake.
        delegates()
        self.queue = MeasureQueue()
        self.worker = MeasureWorker()
        self.served = 0
        self.slots = ConnectionSlots(config.max_connections, config.reserved_connections)
        host = address[0]
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        """Bind; `::` also takes IPv4 clients where the system allows dual-stack sockets."""
        if self.address_family == socket.AF_INET6 and self.server_address[0] in ("::", ""):
            with contextlib.suppress(OSError, AttributeError):
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve a connection if ConnectionSlots admits it, else close it at once."""
        if not self.slots.admit(request):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection, then free its slot."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line per unexpected error; the server keeps serving."""
        exc = sys.exc_info()[1]
        text = safe_log_text(f"{type(exc).__name__}: {exc}", self.token_text)
        print(f"agent: error serving {client_address[0]}: {text}", file=sys.stderr, flush=True)

    def server_close(self) -> None:
        """Stop listening and stop the measurement process."""
        super().server_close()
        self.worker.close()


class Handler(GuardedHandler):
    """The endpoints; every request is authenticated before anything else is read or done."""

    server: AgentServer

    def do_GET(self) -> None:
        self._dispatch({"/v1/hello": self._hello}, self._artifact_status)

    def do_PUT(self) -> None:
        self._dispatch({}, self._upload)

    def do_POST(self) -> None:
        self._dispatch({"/v1/measure": self._measure, "/v1/measure-detection": self._measure_detection}, None)

    def _dispatch(self, routes: dict[str, Any], artifact_route: Any) -> None:
        if not token_matches(self.headers.get("Authorization"), self.server.token):
            # Nothing is read, nothing runs, nothing is said: a bare 401, and the connection is closed.
            self.close_connection = True
            self._reply(401)
            return
        if not self.server.slots.authenticated(self.connection):
            self.close_connection = True  # evicted while its head was read: it lost its slot
            return
        if self.headers.get("Expect", "").lower() == "100-continue" and self.request_version != "HTTP/1.0":
            self.send_response_only(100)  # only now: a peer without the token is never invited to send a body
            self.end_headers()
        path, query = self.path.partition("?")[::2]
        try:
            if query or "?" in self.path:
                # A token in a URL ends up in proxies' and shells' histories: refuse the habit outright.
                self._fail(400, "query strings are not accepted (the token goes in the Authorization header)", True)
            elif path in routes:
                routes[path]()
            elif artifact_route is not None and path.startswith("/v1/artifacts/"):
                name = path[len("/v1/artifacts/") :]
                if parse_artifact_name(name) is None:
                    kinds = ", ".join(UPLOADABLE)
                    self._fail(400, f"invalid artifact name: expected <sha256><ext>, ext one of {kinds}", True)
                else:
                    artifact_route(name)
            else:
                self._fail(404, f"no such endpoint: {self.command} {path[:100]}", True)
        except (TimeoutError, socket.timeout, ConnectionError):  # noqa: UP041 (apart from TimeoutError on 3.9)
            self.close_connection = True  # the peer stalled or went away mid-request
        except Exception as exc:  # a bug must not take the agent down: report it and keep serving
            self.log_message("internal error: %s: %s", type(exc).__name__, exc)
            self._fail(500, f"internal error: {type(exc).__name__}", True)

    # -- endpoints ------------------------------------------------------------------------------------
    def _hello(self) -> None:
        from hwbench.agent.board import board_facts

        config = self.server.config
        self._reply(
            200,
            {
                "protocol": PROTOCOL_VERSION,
                **board_facts(),
                "limits": {
                    "max_upload_bytes": config.max_upload_bytes,
                    "max_request_bytes": config.max_request_bytes,
                    "request_timeout_s": config.request_timeout_s,
                    "max_threads": config.max_threads,
                    "max_connections": config.max_connections,
                },
                "connections": self.server.slots.state(),
                "cache": self.server.cache.stats(),
                "queue": {**self.server.queue.state(), "served": self.server.served},
            },
        )

    def _artifact_status(self, name: str) -> None:
        self._reply(200, {"artifact": name, "present": self.server.cache.has(name)})

    def _upload(self, name: str) -> None:
        length = self._length(min(self.server.config.max_upload_bytes, self.server.cache.max_bytes))
        if length is None:
            return
        try:
            evicted = self.server.cache.store(name, self.rfile, length)
            self._body_read()
        except UploadError as exc:
            # The body may be partly unread: close rather than parse its rest as the next request.
            self._fail(400, str(exc), True)
            return
        self.log_message("stored %s (%d bytes, %d evicted)", name, length, evicted)
        self._reply(201, {"artifact": name, "stored": True, "evicted": evicted})

    def _measure(self) -> None:
        data = self._json_body(self.server.config.max_request_bytes)
        if data is None:
            return
        try:
            job, name, queue_timeout = measure_job(data, self.server.config.max_threads)
        except JobError as exc:
            self._fail(400, str(exc))
            return
        self._run(job, {"path": name}, queue_timeout, lambda job: job_timeout(job["protocol"]))

    def _measure_detection(self) -> None:
        data = self._json_body(self.server.config.max_request_bytes)
        if data is None:
            return
        try:
            job, artifact, images, queue_timeout = detection_job(data, self.server.config.max_threads)
        except JobError as exc:
            self._fail(400, str(exc))
            return
        files = {"artifact": artifact, "images": images}
        if "backbone" in job:  # pinned, asked for and verified like the detector itself
            files["backbone"] = job["backbone"]
        self._run(job, files, queue_timeout, _detection_timeout)

    def _run(self, job: dict[str, Any], files: dict[str, str], queue_timeout: float, timeout_for: Any) -> None:
        """Run a job on the board in its turn, with its cached files (job key → file name) pinned meanwhile."""
        cache = self.server.cache
        names = list(dict.fromkeys(files.values()))
        with contextlib.ExitStack() as pins:
            for name in names:
                pins.enter_context(cache.pinned(name))
            missing = [name for name in names if not cache.has(name)]
            if missing:  # the client uploads it and asks again
                self._reply(404, {"error": "artifact not in cache", "missing": missing[0]})
                return
            t0 = time.monotonic()
            try:
                with self.server.queue.turn(queue_timeout) as queued:
                    if self._client_gone():
                        self.log_message("skipped %s: the client left while queued", names[0])
                        self.close_connection = True
                        return
                    for name in names:
                        if not cache.verified(name):  # bit rot on the board's storage: ask for the bytes again
                            self._reply(404, {"error": "cached artifact failed its hash check", "missing": name})
                            return
                        cache.touch(name)
                    for key, name in files.items():
                        job[key] = str(cache.path(name))
                    try:
                        timeout = timeout_for(job)
                    except ValueError as exc:  # an images file that is not plain uint8 images: refused unread
                        self._fail(400, str(exc))
                        return
                    self.log_message("measuring %s (queued %.3f s)", names[0], queued)
                    result = self.server.worker.run(job, timeout)
                    self.server.served += 1
            except QueueTimeout as exc:
                self._fail(503, str(exc))
                return
        self.log_message("measured %s: %s", names[0], result.get("status"))
        self._reply(
            200,
            {"result": encode_result(result), "queue_seconds": queued, "agent_seconds": time.monotonic() - t0},
        )

    def _client_gone(self) -> bool:
        """Whether the client closed its connection while its job waited (then the job is dropped)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


def _detection_timeout(job: dict[str, Any]) -> float:
    """A detection job's time limit, from its timing budget and the images it scores (read from the file's header;
    raises ImagesError for a file that is not plain uint8 images)."""
    from hwbench.measure.det_images import read_images
    from hwbench.runners.detection import detection_timeout

    return detection_timeout(job, len(read_images(job["images"])))


def serve(host: str, port: int, config: AgentConfig) -> AgentServer:
    """Bind the server (port 0 picks a free port); the caller runs `serve_forever()`."""
    return AgentServer((host, port), config)
